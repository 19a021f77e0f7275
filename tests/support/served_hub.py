"""`satukartu serve` as a city runs it (gunicorn, its workers), for tests that need the
real server: started, waited for, and always stopped."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from tests.support.private_services import wait_until

SATUKARTU = str(Path(sys.executable).parent / "satukartu")


@contextmanager
def serving(env: Mapping[str, str], port: int, log: Path, answers: Callable[[], bool],
            *, workers: int = 2, wait: float = 60) -> Iterator[subprocess.Popen]:
    """The hub on 127.0.0.1:`port`, its output in `log`, once `answers()` is true.

    A server that exits while starting fails the test with the end of its log."""
    with open(log, "ab") as out:
        server = subprocess.Popen([SATUKARTU, "serve", "--bind", f"127.0.0.1:{port}",
                                   "--workers", str(workers)], env=dict(env), stdout=out,
                                  stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: answers() or server.poll() is not None, wait, "gunicorn")
        assert server.poll() is None, log.read_text(errors="replace")[-3000:]
        yield server
    finally:
        server.terminate()  # gunicorn's master: its workers stop with it
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
