"""Card inserted -> session ready, through a private pcscd with the virtual card, against
a running hub: the end-to-end part of `bench_auth.py`, apart from its load."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def measure_e2e(port: int, origin: str, terminal: tuple[str, str], db_url: str, instance: Path,
                env: dict, rounds: int) -> dict[str, tuple[float, float]]:
    """Card inserted -> session ready through pcscd, with the real hub; fast and real cards."""
    from concurrent.futures import ThreadPoolExecutor

    from card_reader.daemon import authenticate
    from card_reader.hub_client import HubClient
    from card_reader.pcsc import PcscConnection
    from tests.pcsc_fixtures import PrivatePcscd, VirtualCard

    workdir = Path(tempfile.mkdtemp(prefix="bench-pcscd-"))
    daemon = PrivatePcscd(workdir)
    os.environ.update(daemon.env)
    daemon.start()
    figures = {}
    try:
        client = HubClient(origin, terminal[0], terminal[1], scope="kiosk")
        client.sign_in()
        executor = ThreadPoolExecutor(2)
        for index, profile in enumerate(("fast", "real")):
            card = VirtualCard(daemon, workdir / f"{profile}.json", daemon.readers[index],
                               profile).insert()
            _issue_with_cli(card.reader, index, db_url, instance, env)
            for label, pin in (("tap", None), ("pin", "123123")):
                samples = []
                for _ in range(rounds):
                    t0 = time.perf_counter()
                    with PcscConnection(card.reader) as conn:
                        authenticate(conn, client, pin, executor)
                        conn.close(reset=pin is not None)
                    samples.append((time.perf_counter() - t0) * 1000)
                samples.sort()
                figures[f"{profile}, {label}"] = (
                    statistics.median(samples),
                    samples[min(len(samples) - 1, int(len(samples) * 0.99))])
            card.remove()
    finally:
        daemon.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return figures


def _issue_with_cli(reader: str, index: int, db_url: str, instance: Path, env: dict) -> None:
    number = f"9{index:015d}"
    cmd = [str(Path(sys.executable).parent / "satukartu"), "card", "issue", "--citizen", number,
           "--reader", reader, "--pin", "123123", "--json"]
    subprocess.run(cmd, env={**os.environ, **env}, check=True, capture_output=True)
