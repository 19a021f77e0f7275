"""Irregularity signals on a synthetic month with planted patterns: how many are found,
and how many clean agents are flagged.

    .venv/bin/python bench/bench_signals.py [--agents 300] [--days 30] [--judged 21]
        [--plants 12] [--seed 7] [--postgresql]

Makes a fresh database (a SQLite file; --postgresql for PostgreSQL), then a month of an
agent network's redemptions through the ledger's own posting path (`postings.post`, each
entry balanced, at its local time) and card refusals through the audit chain's own
append (in time order). Clean agents differ in size, opening hours and customers;
baskets are priced item by item. Then it plants, each on its own agent (or card) and day
among the judged days: a card at three agents within half an hour, redemptions just
under the cap, a day's takings several times the usual, round amounts, redemptions after
closing, a burst of card refusals, most of a day's redemptions made offline (clean
agents have link outages of 1-4 hours on 2 % of their days, whose redemptions are
offline too). It judges each day with `backend.signals.run`,
as the daily job does, and prints the share of planted irregularities flagged (the goal:
at least 95 %) and the share of clean agents flagged at least once (the goal: at most 1
%).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import random
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ZONE = "Asia/Jakarta"
CAP = 200_000  # food's max_redemption
PROGRAMME, PURSE = "food", "groceries"
AGENT_KINDS = ("just_under_cap", "takings_spike", "round_amounts", "outside_hours",
               "refusal_cluster")
OFFLINE_KIND = "offline_share"  # planted after the others, from a random stream of its own
OUTAGE_RATE = 0.02  # a clean agent's chance, each day, of a link outage of 1-4 hours


@dataclass
class Agent:
    name: str
    rate: float  # redemptions a day
    opens: int
    closes: int
    customers: list[str]


@dataclass(frozen=True)
class Spend:
    card: str
    agent: str
    at: dt.datetime
    amount: int
    offline: bool = False  # redeemed while the link was down, synced when it returned


def basket(rng: random.Random) -> int:
    """Items priced in steps of 500 rupiah, as a shop's till adds them up."""
    total = sum(rng.randrange(5_000, 60_000, 500) for _ in range(rng.randint(1, 6)))
    return min(total, CAP - rng.randrange(12_000, 40_000, 500))


def local(day: dt.date, hour: float) -> dt.datetime:
    start = dt.datetime.combine(day, dt.time(), ZoneInfo(ZONE))
    return (start + dt.timedelta(hours=hour)).astimezone(dt.UTC)


def poisson(rng: random.Random, rate: float) -> int:
    count, limit, product = 0, pow(2.718281828, -rate), rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def clean_month(rng: random.Random, agents: list[Agent], days: list[dt.date],
                links: random.Random) -> tuple[list[Spend], list[tuple[str, dt.datetime]]]:
    """`links` draws the link outages apart from `rng`, so the month is otherwise the
    one the other signals' thresholds were set on."""
    spends, refusals = [], []
    for day in days:
        busy = 0.6 if day.weekday() == 6 else 1.0
        for a in agents:
            down = (-1.0, -1.0)
            if links.random() < OUTAGE_RATE:
                start = links.uniform(a.opens, a.closes - 1)
                down = (start, start + links.uniform(1, 4))
            for _ in range(poisson(rng, a.rate * busy)):
                hour = rng.uniform(a.opens, a.closes - 0.05)
                spends.append(Spend(rng.choice(a.customers), a.name, local(day, hour),
                                    basket(rng), down[0] <= hour < down[1]))
            for _ in range(poisson(rng, 0.3)):
                refusals.append((a.name, local(day, rng.uniform(a.opens, a.closes))))
    return spends, refusals


def at_shop(rng: random.Random, a: Agent, day: dt.date, count: int, amount, hours=None
            ) -> list[Spend]:
    """`count` redemptions by the agent's customers on `day`, `amount()` each, at random
    times within `hours` (default: its opening hours)."""
    start, end = hours or (a.opens, a.closes - 0.05)
    return [Spend(rng.choice(a.customers), a.name, local(day, rng.uniform(start, end)),
                  amount()) for _ in range(count)]


def plant(rng: random.Random, agents: list[Agent], judged: list[dt.date], per_kind: int
          ) -> tuple[list[Spend], list[tuple[str, dt.datetime]], set[tuple[str, str, dt.date]]]:
    """The planted irregularities, and (kind, subject, day) for each."""
    spends: list[Spend] = []
    refusals: list[tuple[str, dt.datetime]] = []
    truth: set[tuple[str, str, dt.date]] = set()
    chosen = rng.sample(agents, per_kind * len(AGENT_KINDS))
    for n, a in enumerate(chosen):
        kind, day = AGENT_KINDS[n % len(AGENT_KINDS)], rng.choice(judged)
        truth.add((kind, a.name, day))
        if kind == "just_under_cap":
            spends += at_shop(rng, a, day, rng.randint(6, 9),
                              lambda: rng.randrange(int(CAP * 0.96), CAP, 500))
        elif kind == "takings_spike":  # walk-in cards, bigger baskets, four times as many
            spends += [Spend(f"{a.name}-walkin-{i}", s.agent, s.at, s.amount)
                       for i, s in enumerate(at_shop(rng, a, day, int(a.rate * 4), lambda: min(
                           int(basket(rng) * 1.6) // 500 * 500, int(CAP * 0.9))))]
        elif kind == "round_amounts":
            spends += at_shop(rng, a, day, rng.randint(8, 12),
                              lambda: rng.choice((50_000, 100_000, 150_000)))
        elif kind == "outside_hours":
            spends += at_shop(rng, a, day, rng.randint(3, 6), lambda: basket(rng), (22.2, 23.9))
        else:
            hour = rng.uniform(a.opens + 1, a.closes - 2)
            refusals += [(a.name, local(day, hour + rng.uniform(0, 0.15)))
                         for _ in range(rng.randint(5, 9))]
    others = [a for a in agents if a not in chosen]
    for n in range(per_kind * 2):
        day, card = rng.choice(judged), f"HOPPER-{n}"
        hour = rng.uniform(9, 18)
        truth.add(("card_many_agents", card, day))
        for step, a in enumerate(rng.sample(others, 3)):
            spends.append(Spend(card, a.name, local(day, hour + step * rng.uniform(0.1, 0.15)),
                                basket(rng)))
    return spends, refusals, truth


def plant_offline(links: random.Random, agents: list[Agent], judged: list[dt.date],
                  per_kind: int, taken: set[str]) -> tuple[list[Spend], set]:
    """Agents redeeming most of a day offline (three times their usual day's count, on
    top of it), out of the hub's sight, each on its own agent and day."""
    spends: list[Spend] = []
    truth = set()
    for a in links.sample([a for a in agents if a.name not in taken], per_kind):
        day = links.choice(judged)
        truth.add((OFFLINE_KIND, a.name, day))
        spends += [dataclasses.replace(s, offline=True) for s in at_shop(
            links, a, day, int(a.rate * 3), lambda: basket(links))]
    return spends, truth


def write(app, spends: list[Spend], refusals: list[tuple[str, dt.datetime]]) -> float:
    from backend.audit.append import append
    from backend.audit.record import make_entry
    from backend.db import database
    from backend.ledger import postings

    started = time.perf_counter()
    db = database()
    with db.engine.begin() as conn:  # the chain's times run forward: refusals in time order
        for agent, at in sorted(refusals, key=lambda r: r[1]):
            entry = make_entry(None, action="api.cards.token", subject_type=None,
                               subject_id=None, outcome="signature_invalid",
                               purpose=None, details={"path": "/api/v1/auth/token"},
                               citizen_id=None)
            entry.update(actor_kind="terminal", actor=agent, terminal_id=agent, role="agent")
            append(conn, [entry], at)
    accounts: dict[tuple[str, str], int] = {}
    by_day: dict[dt.date, list[Spend]] = defaultdict(list)
    for s in spends:
        by_day[s.at.date()].append(s)
    for day in sorted(by_day):
        with db.transaction() as sess:
            funding = postings.open_account(sess, PROGRAMME, PURSE, postings.FUNDING)
            for s in sorted(by_day[day], key=lambda s: s.at):
                for owner in (("terminal", s.agent), ("household", s.card)):
                    if owner not in accounts:  # a household id a card, a terminal by name
                        ref = owner[1] if owner[0] == "terminal" else str(len(accounts) + 1)
                        accounts[owner] = postings.open_account(
                            sess, PROGRAMME, PURSE, postings.Owner(owner[0], ref))
                holder, shop = accounts[("household", s.card)], accounts[("terminal", s.agent)]
                postings.post(sess, postings.Entry("credit", PROGRAMME, PURSE, at=s.at),
                              [(funding, -s.amount), (holder, s.amount)])
                kind = "offline_spend" if s.offline else "spend"
                postings.post(sess, postings.Entry(kind, PROGRAMME, PURSE,
                                                   terminal_id=s.agent, actor=f"card:{s.card}",
                                                   at=s.at),
                              [(holder, -s.amount), (shop, s.amount)])
    return time.perf_counter() - started


def judge(app, judged: list[dt.date]) -> tuple[list, float]:
    from backend.db import database
    from backend.signals.judge import run

    started = time.perf_counter()
    with database().transaction() as sess:
        found = run(sess, sess.connection(), judged[0], judged[-1])
    return found, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=300)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--judged", type=int, default=21, help="the last N days are judged")
    parser.add_argument("--plants", type=int, default=12, help="planted agents per kind")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--postgresql", action="store_true", help="write the month into a "
                        "fresh PostgreSQL database instead of a SQLite file (slower to fill)")
    args = parser.parse_args()

    from backend import migrations
    from backend.app import create_app
    from backend.testing.databases import create_pg_database, drop_pg_database, unique_name

    rng = random.Random(args.seed)
    first = dt.date(2026, 10, 1)
    days = [first + dt.timedelta(days=n) for n in range(args.days)]
    judged = days[-args.judged:]
    agents = []
    for n in range(args.agents):
        rate = rng.uniform(6, 20)
        agents.append(Agent(f"agent-{n:04d}", rate, rng.choice((6, 7, 8)),
                            rng.choice((20, 21, 22)),
                            [f"card-{n:04d}-{c}" for c in range(int(rate * 3))]))
    links = random.Random(args.seed * 7919 + 1)
    spends, refusals = clean_month(rng, agents, days, links)
    planted, planted_refusals, truth = plant(rng, agents, judged, args.plants)
    offline, offline_truth = plant_offline(links, agents, judged, args.plants,
                                           {subject for _, subject, _ in truth})
    planted += offline
    truth |= offline_truth

    name = unique_name("sk_bench_signals")
    with tempfile.TemporaryDirectory() as instance:
        url = (create_pg_database(name) if args.postgresql
               else f"sqlite:///{Path(instance) / 'signals.db'}")
        try:
            migrations.upgrade(url)
            app = create_app(DATABASE_URL=url, INSTANCE_DIR=instance, CITY_TIMEZONE=ZONE,
                             LOG_LEVEL="WARNING")
            with app.app_context():
                wrote = write(app, spends + planted, refusals + planted_refusals)
                found, took = judge(app, judged)
        finally:
            if args.postgresql:
                drop_pg_database(name)

    flagged = {(s.kind, s.subject, s.day) for s in found}
    hits = truth & flagged
    planted_agents = {subject for kind, subject, _ in truth if kind != "card_many_agents"}
    clean = [a.name for a in agents if a.name not in planted_agents]
    clean_flagged = sorted({s.subject for s in found
                            if s.subject_type == "agent" and s.subject in clean})
    print(f"{args.agents} agents, {len(days)} days ({len(judged)} judged), "
          f"{len(spends) + len(planted)} redemptions, {len(refusals) + len(planted_refusals)} "
          f"card refusals; written in {wrote:.0f} s, judged in {took:.1f} s")
    for kind in ("card_many_agents", *AGENT_KINDS, OFFLINE_KIND):
        mine = {t for t in truth if t[0] == kind}
        print(f"  {kind:18s} planted {len(mine):3d}, flagged {len(mine & flagged):3d}")
    print(f"planted irregularities flagged: {len(hits)} of {len(truth)} "
          f"= {100 * len(hits) / len(truth):.1f} % (goal >= 95 %)")
    print(f"clean agents flagged: {len(clean_flagged)} of {len(clean)} "
          f"= {100 * len(clean_flagged) / len(clean):.2f} % (goal <= 1 %)"
          + (f": {', '.join(clean_flagged)}" if clean_flagged else ""))
    for s in found:
        if s.subject in clean_flagged:
            print(f"    {s.day} {s.kind} {s.subject}: {s.summary}")


if __name__ == "__main__":
    main()
