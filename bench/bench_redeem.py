"""A redemption through the hub's whole request path: what one costs in CPU.

An agent's PIN session per card (challenge, the card's 9A signature, token), then
`POST /api/v1/services/food/redeem` with an Idempotency-Key, in process (Flask's test
client, so no HTTP server's cost is counted) against a fresh PostgreSQL database seeded
as the load test seeds it. Reported per redemption: the wall time (median, p95), the
CPU of this process (the hub's Python: routing, authorisation, the programme, the
ledger, the receipt's signature, the audit record) and of the PostgreSQL backend.

On a shared machine, compare two trees in one window rather than with a figure from
another day: `PYTHONPATH=<other checkout>` runs this same script on that checkout's hub
(BENCHMARKS.md has the loop).

    .venv/bin/python bench/bench_redeem.py [--households 300] [--cards 60] [--rounds 1500]
        [--citizens N | --world DIR]

With --citizens N the database is a synthetic city made by `satukartu registry synth
--citizens N` (bench/synth_world.py), with --world DIR one kept by `bench_synth.py
--keep DIR`: its food balances are the month's allocation, and the cards are drawn at
random across the whole registry among holders whose household's balance covers their
share of the rounds (so there are more of them than --cards when the rounds need it).
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

sys.path.append(str(Path(__file__).resolve().parent.parent))  # after PYTHONPATH: see above

BASKET = {"items": [{"name": "Beras 1 kg", "category": "rice", "quantity": 1,
                     "unit_price": 12_500}], "amount": 12_500}
ORIGIN = "https://hub.bench.satukartu"


def _cards(fixture: dict[str, Any]) -> list[Any]:
    from backend.testing.cards import SoftCard

    cards = []
    for entry in fixture["cards"]:
        keys = {ref: serialization.load_pem_private_key(entry[f"key_{ref}"].encode(), None)
                for ref in ("9A", "9E")}
        certificates = {ref: x509.load_der_x509_certificate(
            base64.b64decode(entry[f"cert_{ref}"])) for ref in ("9A", "9E")}
        cards.append(SoftCard(serial="", card_uuid=uuid.uuid4(), national_number="",
                              citizen_id=entry["citizen_id"], keys=keys,  # type: ignore[arg-type]
                              certificates=certificates))
    return cards


def _terminal_token(client: Any, client_id: str, secret: str) -> str:
    from backend.testing.identity import basic

    answer = client.post("/api/v1/oauth/token",
                         data={"grant_type": "client_credentials", "scope": "agent"},
                         headers=basic(client_id, secret))
    assert answer.status_code == 200, answer.json
    return answer.json["access_token"]


def run(households: int, cards: int, rounds: int) -> dict[str, Any]:
    from bench.load import world

    name, url = world.create_database()
    with tempfile.TemporaryDirectory() as folder:
        instance, out = Path(folder) / "instance", Path(folder) / "fixture.json"
        instance.mkdir()
        env = world.seed(url, instance, ORIGIN, households=households, cards=cards,
                         kiosks=0, agents=1, clerks=0, out=out)
        fixture = json.loads(out.read_text(encoding="utf-8"))
        settings = {key.removeprefix("SATUKARTU_"): value for key, value in env.items()
                    if key != "SATUKARTU_SESSION_TTL"}
        figures = measure(settings, name, fixture["terminals"]["agent"][0], _cards(fixture),
                          rounds)
    world.drop_database(name)
    return figures


def run_synthetic(args: argparse.Namespace) -> dict[str, Any]:
    """The same rounds against a synthetic city, cards drawn across the registry."""
    from bench import synth_world
    from bench.bench_auth import add_terminals

    world = synth_world.load(args.world) if args.world else synth_world.build(args.citizens)
    try:
        holders = max(args.cards, -(-(args.rounds + WARM) // MAX_PER_CARD) + 1)
        cards = synth_world.draw(world, holders,
                                 food_balance_at_least=MAX_PER_CARD * BASKET["amount"])
        settings = world.settings(ORIGIN)
        terminal = add_terminals(settings, 1, "agent")[0]
        figures = measure(settings, world.name, terminal, cards, args.rounds)
    finally:
        if not args.world:
            synth_world.drop(world)
    figures["world"] = f"synthetic city of {world.citizens:,} citizens, {len(cards)} cards"
    return figures


# A household's monthly food credit (200,000) covers 16 baskets of 12,500.
MAX_PER_CARD = 16
WARM = 5


def measure(settings: dict[str, str], name: str, agent: tuple[str, str], cards: list[Any],
            rounds: int) -> dict[str, Any]:
    """PIN sessions for `cards` at one agent terminal, then `rounds` redemptions."""
    import backend
    from backend.app import create_app
    from backend.testing import databases
    from backend.testing.cards import authenticate
    from bench.proc_cpu import backend_pids, cpu_seconds

    app = create_app(**settings)
    client = app.test_client()
    terminal = _terminal_token(client, *agent)
    sessions = []
    for card in cards:
        answer = authenticate(client, terminal, card, ORIGIN, "9A")
        assert answer.status_code == 200, answer.json
        sessions.append(answer.json["session_token"])
    for token in sessions[-WARM:]:  # warm the connection pool and caches
        _redeem(client, token)
    backends = backend_pids(databases._admin_conninfo(), name)
    walls = []
    cpu_db, cpu_hub = cpu_seconds(backends), time.process_time()
    for n in range(rounds):
        started = time.perf_counter()
        _redeem(client, sessions[n % len(sessions)])
        walls.append(time.perf_counter() - started)
    cpu_hub = time.process_time() - cpu_hub
    cpu_db = cpu_seconds(backends) - cpu_db
    app.extensions["satukartu.db"].engine.dispose()
    walls.sort()
    return {"tree": str(Path(backend.__file__).parent.parent),
            "median_ms": statistics.median(walls) * 1e3,
            "p95_ms": walls[int(len(walls) * 0.95)] * 1e3,
            "p99_ms": walls[int(len(walls) * 0.99)] * 1e3,
            "hub_cpu_us": cpu_hub / rounds * 1e6, "db_cpu_us": cpu_db / rounds * 1e6}


def _redeem(client: Any, token: str) -> None:
    answer = client.post("/api/v1/services/food/redeem", json=BASKET,
                         headers={"Authorization": f"Bearer {token}",
                                  "Idempotency-Key": str(uuid.uuid4())})
    assert answer.status_code == 200, answer.json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--households", type=int, default=300)
    parser.add_argument("--cards", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=1500)
    parser.add_argument("--citizens", type=int, default=None,
                        help="against a synthetic city of N citizens made for this run")
    parser.add_argument("--world", type=Path, default=None,
                        help="against a synthetic city kept by bench_synth.py --keep DIR")
    args = parser.parse_args()
    if args.citizens or args.world:
        figures = run_synthetic(args)
        print(figures["world"])
    else:
        figures = run(args.households, args.cards, args.rounds)
    print(f"{figures['tree']}: {args.rounds} redemptions, median {figures['median_ms']:.1f} ms"
          f", p95 {figures['p95_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms, CPU per "
          f"redemption: hub {figures['hub_cpu_us']:,.0f} us + PostgreSQL "
          f"{figures['db_cpu_us']:,.0f} us")


if __name__ == "__main__":
    main()
