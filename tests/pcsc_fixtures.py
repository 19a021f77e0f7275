"""Real PC/SC for tests: a private pcscd with vpcd readers, virtual cards, issued cards.

Use from any test package with `pytest_plugins = ["tests.pcsc_fixtures"]` (root
conftest) or by importing the fixtures into a conftest.

Each test process (xdist worker) gets its own pcscd: the daemon runs in a private
mount namespace where a per-worker directory is bind-mounted on /run/pcscd (pcscd
1.9 has that path compiled in), and vpcd listens on free ports of its own. The
client library finds that pcscd through PCSCLITE_CSOCK_NAME, which it reads once
per process: the fixture sets it before anything touches PC/SC, and every tool
started from the tests (OpenSC, the CLI) inherits it.
"""

from __future__ import annotations

import datetime
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
READER_PREFIX = "Virtual PCD"
TEST_PIN = "246810"
TEST_PUK = "97531086"
TEST_MGMT_KEY = bytes.fromhex("00112233445566778899AABBCCDDEEFF")


def _free_port_pair() -> int:
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


def _wait(predicate, timeout: float, what: str, interval: float = 0.02) -> None:  # noqa: ANN001
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
        self.port = _free_port_pair()
        self.readers = [f"{READER_PREFIX} 00 00", f"{READER_PREFIX} 00 01"]
        self.conf = workdir / "reader.conf"
        self.conf.write_text(
            f'FRIENDLYNAME "{READER_PREFIX}"\n'
            f"DEVICENAME /dev/null:{self.port}\n"
            f"LIBPATH {VPCD_DRIVER}\n")
        self.log_path = workdir / "pcscd.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def port_for(self, reader: str) -> int:
        return self.port + self.readers.index(reader)

    @property
    def env(self) -> dict[str, str]:
        return {"PCSCLITE_CSOCK_NAME": str(self.socket_path)}

    def start(self) -> None:
        script = (f"mount -t tmpfs tmpfs /run && mkdir -p /run/pcscd && "
                  f"mount --bind '{self.workdir}' /run/pcscd && "
                  f"exec pcscd --foreground --info -c '{self.conf}'")
        unshare = ["unshare", "-m", "--propagation", "private"]
        if os.geteuid() != 0:
            unshare.insert(1, "-r")  # a user namespace lets a normal user mount
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([*unshare, "sh", "-c", script], stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        _wait(self._ready, 10, "pcscd to list its readers")

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"pcscd exited: {self.log_path.read_text()[-2000:]}")
        if not self.socket_path.exists():
            return False
        from card_reader.pcsc import PcscError, list_readers
        try:
            return set(self.readers) <= set(list_readers())
        except PcscError:
            return False

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


@pytest.fixture(scope="session")
def pcscd() -> Iterator[PrivatePcscd]:
    """A running private pcscd; PCSCLITE_CSOCK_NAME points this process at it."""
    workdir = Path(tempfile.mkdtemp(prefix="satukartu-pcscd-"))
    daemon = PrivatePcscd(workdir)
    previous = os.environ.get("PCSCLITE_CSOCK_NAME")
    os.environ.update(daemon.env)
    daemon.start()
    yield daemon
    daemon.stop()
    if previous is None:
        os.environ.pop("PCSCLITE_CSOCK_NAME", None)
    else:
        os.environ["PCSCLITE_CSOCK_NAME"] = previous


def card_present(reader: str) -> bool:
    """True when pcscd reports a card in `reader` (a fresh context each time)."""
    from smartcard import scard
    code, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if code != scard.SCARD_S_SUCCESS:
        return False
    try:
        code, states = scard.SCardGetStatusChange(ctx, 0, [(reader, scard.SCARD_STATE_UNAWARE)])
        return code == scard.SCARD_S_SUCCESS and bool(states[0][1] & scard.SCARD_STATE_PRESENT)
    finally:
        scard.SCardReleaseContext(ctx)


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
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **self.pcscd.env})
        log.close()
        if wait:
            _wait(lambda: card_present(self.reader), 10, f"a card in {self.reader}")
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
            _wait(lambda: not card_present(self.reader), 10, f"{self.reader} to empty")


@pytest.fixture
def vcard_factory(pcscd: PrivatePcscd, tmp_path: Path) -> Iterator:
    """Make virtual cards: `vcard_factory(reader_index=0, delay_profile="fast")`."""
    cards: list[VirtualCard] = []

    def make(reader_index: int = 0, delay_profile: str = "fast", pin_retries: int = 3,
             state_path: Path | None = None, insert: bool = True) -> VirtualCard:
        card = VirtualCard(pcscd, state_path or tmp_path / f"card{len(cards)}.json",
                           pcscd.readers[reader_index], delay_profile, pin_retries)
        cards.append(card)
        return card.insert() if insert else card

    yield make
    for card in cards:
        card.remove(wait=card.proc is not None)


@pytest.fixture
def blank_card(vcard_factory) -> VirtualCard:  # noqa: ANN001
    """A blank card (default PIN, PUK and management key) in the first reader."""
    return vcard_factory()


# --- issuing test cards ---------------------------------------------------------


@dataclass
class TestCA:
    """A throwaway issuing CA for cards in tests (the hub's real CA lives in backend)."""

    __test__ = False
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @classmethod
    def create(cls, name: str = "SatuKartu Test Issuing CA") -> TestCA:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.UTC)
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=365))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .sign(key, hashes.SHA256()))
        return cls(key, cert)

    def certify(self, slot: int, public_key: ec.EllipticCurvePublicKey,
                card_uuid: uuid.UUID, citizen: str = "3171000000000001") -> bytes:
        from cryptography.hazmat.primitives.serialization import Encoding
        now = datetime.datetime.now(datetime.UTC)
        subject = x509.Name([
            x509.NameAttribute(NameOID.COMMON_NAME, f"citizen {citizen} key {slot:02X}"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, citizen),
        ])
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(self.cert.subject)
                .public_key(public_key).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=30))
                .add_extension(x509.KeyUsage(True, False, False, False, False, False, False,
                                             False, False), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),
                               critical=False)
                .add_extension(x509.SubjectAlternativeName(
                    [x509.UniformResourceIdentifier(f"urn:uuid:{card_uuid}")]), critical=False)
                .sign(self.key, hashes.SHA256()))
        return cert.public_bytes(Encoding.DER)


@dataclass
class IssuedVirtualCard:
    card: VirtualCard
    issued: object  # card_reader.issuance.IssuedCard
    ca: TestCA
    pin: str = TEST_PIN
    puk: str = TEST_PUK
    management_key: bytes = TEST_MGMT_KEY

    @property
    def reader(self) -> str:
        return self.card.reader


def issue_card(card: VirtualCard, ca: TestCA, pin: str = TEST_PIN,
               pin_retries: int | None = None) -> IssuedVirtualCard:
    """Personalise a blank virtual card through pcscd, as `satukartu card issue` would."""
    from card_reader.client import PivSession
    from card_reader.issuance import personalise
    from card_reader.pcsc import PcscConnection

    with PcscConnection(card.reader) as conn:
        issued = personalise(PivSession(conn), certify=ca.certify, pin=pin, puk=TEST_PUK,
                             management_key=TEST_MGMT_KEY, pin_retries=pin_retries)
    return IssuedVirtualCard(card, issued, ca, pin=pin)


@pytest.fixture(scope="session")
def test_ca() -> TestCA:
    return TestCA.create()


@pytest.fixture
def issued_card(blank_card: VirtualCard, test_ca: TestCA) -> IssuedVirtualCard:
    """A card with keys 9A and 9E, certificates from `test_ca`, CHUID, PIN TEST_PIN."""
    return issue_card(blank_card, test_ca)
