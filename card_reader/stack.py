"""A PC/SC stack on one machine: a private pcscd with vpcd readers, and virtual cards.

The demo and the tests use it. The pcscd runs in a private mount namespace where a
folder of ours is bind-mounted on /run/pcscd (pcscd 1.9 has that path compiled in), and
vpcd listens on free ports of its own, so it never fights the machine's own pcscd. The
client library finds it through PCSCLITE_CSOCK_NAME (read once per process), which
`PrivatePcscd.env` gives to every process started beside it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
READER_PREFIX = "Virtual PCD"


def free_port_pair() -> int:
    """A port p with p and p+1 free: vpcd opens one port per slot."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port >= 65535:
            continue
        try:
            with socket.socket() as s2:
                s2.bind(("0.0.0.0", port + 1))  # noqa: S104 - probing like vpcd will bind
            with socket.socket() as s1:
                s1.bind(("0.0.0.0", port))  # noqa: S104
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for vpcd")


def wait_for(predicate, timeout: float, what: str, interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out waiting for {what}")


class PrivatePcscd:
    """One pcscd with two vpcd readers, private to this process."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.socket_path = workdir / "pcscd.comm"
        self.port = free_port_pair()
        self.readers = [f"{READER_PREFIX} 00 00", f"{READER_PREFIX} 00 01"]
        self.conf = workdir / "reader.conf"
        self.conf.write_text(
            f'FRIENDLYNAME "{READER_PREFIX}"\n'
            f"DEVICENAME /dev/null:{self.port}\n"
            f"LIBPATH {VPCD_DRIVER}\n")
        self.log_path = workdir / "pcscd.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_start = 0

    def port_for(self, reader: str) -> int:
        return self.port + self.readers.index(reader)

    @property
    def env(self) -> dict[str, str]:
        return {"PCSCLITE_CSOCK_NAME": str(self.socket_path)}

    def start(self) -> None:
        self._log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        script = (f"mount -t tmpfs tmpfs /run && mkdir -p /run/pcscd && "
                  f"mount --bind '{self.workdir}' /run/pcscd && "
                  f"exec pcscd --foreground --info -c '{self.conf}'")
        unshare = ["unshare", "-m", "--propagation", "private"]
        if os.geteuid() != 0:
            unshare.insert(1, "-r")  # a user namespace lets a normal user mount
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([*unshare, "sh", "-c", script], stdout=log,  # noqa: S603
                                         stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(self._ready, 10, "pcscd to list its readers")

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"pcscd exited: {self.log_path.read_text()[-2000:]}")
        if not self.socket_path.exists():
            return False
        # pcscd says so once its readers are added. Not asked through PC/SC: a process
        # speaks to the first pcscd it met, and the demo starts two (vpcd's readers
        # share their slots across devices, so one pcscd serves two readers only).
        with open(self.log_path, "rb") as log:
            log.seek(self._log_start)
            return b"daemon ready" in log.read()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        for leftover in ("pcscd.comm", "pcscd.pid"):
            (self.workdir / leftover).unlink(missing_ok=True)

    def restart(self, sig: int = signal.SIGKILL) -> None:
        self.stop(sig)
        self.start()


def card_present(reader: str) -> bool:
    """True when pcscd reports a card in `reader` (a fresh context each time)."""
    from card_reader.pcsc import PcscError, readers_with_card

    try:
        return reader in readers_with_card()
    except PcscError:
        return False


@dataclass
class VirtualCard:
    """A `satukartu vcard` process; running it inserts the card, stopping it removes it."""

    pcscd: PrivatePcscd
    state_path: Path
    reader: str
    delay_profile: str = "fast"
    pin_retries: int = 3
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def insert(self, wait: bool = True) -> VirtualCard:
        cmd = [sys.executable, "-m", "card_reader.vcard", "--state", str(self.state_path),
               "--port", str(self.pcscd.port_for(self.reader)),
               "--delay-profile", self.delay_profile, "--pin-retries", str(self.pin_retries)]
        log = open(self.state_path.with_suffix(".log"), "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,  # noqa: S603
                                     env={**os.environ, **self.pcscd.env})
        log.close()
        if wait:
            wait_for(lambda: card_present(self.reader), 10, f"a card in {self.reader}")
        return self

    def remove(self, wait: bool = True) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        if wait:
            wait_for(lambda: not card_present(self.reader), 10, f"{self.reader} to empty")
