"""Card costs through the real PC/SC stack: pyscard -> pcscd -> vpcd -> virtual card.

    .venv/bin/python bench/bench_card_apdu.py [--rounds N]

Starts a private pcscd (as the tests do) and virtual cards with the fast and the
real delay profiles, then prints median and p99 of: one APDU round trip (SELECT),
a full 9E signature (SELECT + GENERAL AUTHENTICATE), a 9A signature after VERIFY
PIN, and a whole card authentication against a local HTTP hub (connect, select,
read certificate, challenge, sign, token) to show our overhead beyond the card.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from card_reader import piv
from card_reader.client import PivSession
from card_reader.daemon import authenticate
from card_reader.hub_client import HubClient
from card_reader.pcsc import PcscConnection
from tests.card_reader.stub_hub import CLIENT_ID, CLIENT_SECRET, StubHub
from tests.pcsc_fixtures import PrivatePcscd, TestCA, VirtualCard, issue_card


def timed(fn, rounds: int) -> tuple[float, float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def report(name: str, figures: tuple[float, float]) -> None:
    print(f"{name:<48} median {figures[0]:8.3f} ms   p99 {figures[1]:8.3f} ms")


def bench_profile(daemon: PrivatePcscd, workdir: Path, ca: TestCA, client: HubClient,
                  executor: ThreadPoolExecutor, reader_index: int, profile: str,
                  rounds: int) -> None:
    card = VirtualCard(daemon, workdir / f"{profile}.json", daemon.readers[reader_index],
                       profile).insert()
    issued = issue_card(card, ca)
    digest = b"\x42" * 32
    with PcscConnection(card.reader) as conn:
        session = PivSession(conn)
        if profile == "fast":
            select = piv.select_apdu().encode()
            report("APDU round trip (SELECT), fast",
                   timed(lambda: conn.transmit(select), rounds * 10))

        def sign_9e() -> None:
            session.select()
            session.sign_digest(piv.Slot.CARD_AUTH, digest)

        def sign_9a() -> None:
            session.select()
            session.verify_pin(issued.pin)
            session.sign_digest(piv.Slot.AUTHENTICATION, digest)

        report(f"9E signature (select + sign), {profile}", timed(sign_9e, rounds))
        report(f"9A signature (select + verify + sign), {profile}", timed(sign_9a, rounds))
    client.sign_in()

    def authenticate_tap() -> None:
        with PcscConnection(card.reader) as conn:
            authenticate(conn, client, None, executor)

    report(f"card authentication, tap, local hub, {profile}", timed(authenticate_tap, rounds))
    card.remove()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-pcscd-"))
    daemon = PrivatePcscd(workdir)
    os.environ.update(daemon.env)
    daemon.start()
    hub = StubHub()
    client = HubClient(hub.url, CLIENT_ID, CLIENT_SECRET, timeout=5)
    executor = ThreadPoolExecutor(max_workers=2)
    ca = TestCA.create()
    try:
        for reader_index, profile in enumerate(("fast", "real")):
            rounds = args.rounds if profile == "fast" else max(20, args.rounds // 5)
            bench_profile(daemon, workdir, ca, client, executor, reader_index, profile, rounds)
    finally:
        executor.shutdown()
        client.close()
        hub.close()
        daemon.stop()


if __name__ == "__main__":
    main()
