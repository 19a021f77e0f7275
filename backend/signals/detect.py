"""The irregularity signals, as plain functions over a day's rows and their history.

Each signal is a pattern a programme's inspectors look for at an agent (or, for the
first, at a card), with a threshold set so that a clean agent rarely reaches it
(bench/bench_signals.py plants each pattern in a synthetic month and measures both
sides). They read rows already loaded (`data.py`), so the same functions serve the
daily job, the API, the command line and the benchmark, and are tested without a
database.
"""

from __future__ import annotations

import statistics
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

Row = TypeVar("Row")
KINDS = ("card_many_agents", "just_under_cap", "takings_spike", "round_amounts",
         "outside_hours", "refusal_cluster", "offline_share")


@dataclass(frozen=True)
class Redemption:
    id: int  # the journal entry
    card: str
    agent: str  # the terminal that redeemed it
    at: datetime  # UTC
    amount: int
    programme: str


@dataclass(frozen=True)
class Refusal:
    seq: int  # the audit record
    agent: str
    at: datetime  # UTC
    reason: str


@dataclass(frozen=True)
class Thresholds:
    """Where each signal trips. The defaults keep clean agents under 1 % flagged in the
    synthetic month (BENCHMARKS.md, "Irregularity signals")."""

    many_agents_window: timedelta = timedelta(minutes=30)
    many_agents: int = 3
    near_cap_band: float = 0.05  # within 5 % under a programme's per-redemption cap
    near_cap_count: int = 4
    near_cap_share: float = 0.2
    spike_factor: float = 3.5  # a day's takings against the agent's own median day
    spike_history_days: int = 7  # fewer days of history: against the peers' median
    spike_peer_factor: float = 5.0
    spike_min_redemptions: int = 8
    round_unit: int = 10_000
    round_count: int = 6
    round_share: float = 0.3
    opening: tuple[int, int] = (6, 22)  # local hours [open, close)
    outside_count: int = 3
    refusal_window: timedelta = timedelta(minutes=15)
    refusal_count: int = 5
    # Offline redemptions out of proportion: a link down for an hour or four leaves a
    # tenth to a third of a day offline (at 0.5 and 5, three clean agents of 228 with
    # a chance bunching of their outage's sales were flagged, at 51-56 %; BENCHMARKS.md);
    # most of a day offline, while the agent's peers
    # were online, is the agent choosing to be unreachable (no balance check, no live
    # card status) rather than an outage.
    offline_share: float = 0.6  # of the day's takings (amounts), online and offline
    offline_count: int = 6  # offline redemptions at least
    offline_peer_factor: float = 3.0  # times the median share of the day's other agents


@dataclass(frozen=True)
class Signal:
    kind: str
    subject_type: str  # "agent" | "card"
    subject: str
    day: date  # the city's local day it was seen on
    summary: str
    measure: float
    threshold: float
    evidence: tuple[int, ...] = ()  # journal entry ids (audit sequence numbers for refusals)
    times: tuple[str, ...] = field(default=())  # the evidence's times, ISO 8601 UTC


@dataclass(frozen=True)
class Day:
    """One local day to judge, its rows, and what came before it."""

    day: date
    zone: ZoneInfo
    redemptions: Sequence[Redemption]
    refusals: Sequence[Refusal]
    history: Mapping[str, Mapping[date, int]]  # agent -> earlier local day -> takings
    caps: Mapping[str, int]  # programme -> largest single redemption
    # Redemptions made offline and synced this day (`backend.offline`): the agent's
    # takings like the others, judged apart so the other signals see what they always did.
    offline: Sequence[Redemption] = ()


def detect(day: Day, limits: Thresholds = Thresholds()) -> list[Signal]:
    """Every signal of the day, in KINDS order, then by subject."""
    found = [*card_many_agents(day, limits), *just_under_cap(day, limits),
             *takings_spike(day, limits), *round_amounts(day, limits),
             *outside_hours(day, limits), *refusal_cluster(day, limits),
             *offline_share(day, limits)]
    return sorted(found, key=lambda s: (KINDS.index(s.kind), s.subject))


def _evidence(rows: Iterable[Redemption | Refusal]) -> dict[str, tuple]:
    ordered = sorted(rows, key=lambda r: r.at)
    return {"evidence": tuple(r.id if isinstance(r, Redemption) else r.seq for r in ordered),
            "times": tuple(r.at.isoformat() for r in ordered)}


def _grouped(rows: Iterable[Row], key: Callable[[Row], str]) -> dict[str, list[Row]]:
    grouped: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        grouped[key(row)].append(row)
    return grouped


def _by_agent(rows: Iterable[Redemption]) -> dict[str, list[Redemption]]:
    return _grouped(rows, lambda r: r.agent)


def busiest_window(rows: Sequence[Redemption | Refusal], window: timedelta,
                   distinct: bool) -> list[Redemption | Refusal]:
    """The rows of the `window` holding the most agents (`distinct`) or rows."""
    best: list[Redemption | Refusal] = []
    seen: deque[Redemption | Refusal] = deque()
    for row in sorted(rows, key=lambda r: r.at):
        seen.append(row)
        while row.at - seen[0].at > window:
            seen.popleft()
        size = len({r.agent for r in seen}) if distinct else len(seen)
        if size > (len({r.agent for r in best}) if distinct else len(best)):
            best = list(seen)
    return best


def card_many_agents(day: Day, limits: Thresholds) -> list[Signal]:
    """One card redeemed at several agents within minutes: a card held by an agent
    network, or cloned, rather than carried by its holder."""
    found = []
    for card, rows in _grouped(day.redemptions, lambda r: r.card).items():
        window = busiest_window(rows, limits.many_agents_window, distinct=True)
        agents = sorted({r.agent for r in window})
        if len(agents) >= limits.many_agents:
            minutes = int(limits.many_agents_window.total_seconds() // 60)
            found.append(Signal(
                "card_many_agents", "card", card, day.day,
                f"card {card} redeemed at {len(agents)} agents within {minutes} minutes "
                f"({', '.join(agents)})", len(agents), limits.many_agents,
                **_evidence(window)))
    return found


def just_under_cap(day: Day, limits: Thresholds) -> list[Signal]:
    """Many redemptions just under the programme's cap: amounts made to fit the rule
    rather than a basket."""
    found = []
    for agent, rows in _by_agent(day.redemptions).items():
        near = [r for r in rows if (cap := day.caps.get(r.programme))
                and cap * (1 - limits.near_cap_band) <= r.amount < cap]
        share = len(near) / len(rows)
        if len(near) >= limits.near_cap_count and share >= limits.near_cap_share:
            found.append(Signal(
                "just_under_cap", "agent", agent, day.day,
                f"{len(near)} of {len(rows)} redemptions within "
                f"{limits.near_cap_band:.0%} under the cap", round(share, 3),
                limits.near_cap_share, **_evidence(near)))
    return found


def takings_spike(day: Day, limits: Thresholds) -> list[Signal]:
    """A day's takings far above the agent's own usual day, or, for an agent with little
    history, far above its peers' usual day."""
    today = {agent: rows for agent, rows in _by_agent(day.redemptions).items()
             if len(rows) >= limits.spike_min_redemptions}
    peer_days = [total for days in day.history.values() for total in days.values()]
    peers = statistics.median(peer_days) if peer_days else None
    found = []
    for agent, rows in today.items():
        total = sum(r.amount for r in rows)
        own = [v for d, v in day.history.get(agent, {}).items() if d < day.day]
        if len(own) >= limits.spike_history_days:
            usual, factor, against = statistics.median(own), limits.spike_factor, "its own"
        elif peers:
            usual, factor, against = peers, limits.spike_peer_factor, "its peers'"
        else:
            continue
        if usual > 0 and total > factor * usual:
            found.append(Signal(
                "takings_spike", "agent", agent, day.day,
                f"takings {total} are {total / usual:.1f} x {against} median day ({usual:.0f})",
                round(total / usual, 2), factor, **_evidence(rows)))
    return found


def round_amounts(day: Day, limits: Thresholds) -> list[Signal]:
    """Mostly round amounts: sums keyed in by hand, not baskets priced item by item."""
    found = []
    for agent, rows in _by_agent(day.redemptions).items():
        round_ = [r for r in rows if r.amount % limits.round_unit == 0]
        share = len(round_) / len(rows)
        if len(round_) >= limits.round_count and share >= limits.round_share:
            found.append(Signal(
                "round_amounts", "agent", agent, day.day,
                f"{len(round_)} of {len(rows)} redemptions are multiples of "
                f"{limits.round_unit}", round(share, 3), limits.round_share,
                **_evidence(round_)))
    return found


def outside_hours(day: Day, limits: Thresholds) -> list[Signal]:
    """Redemptions while the shop should be shut (the city's local time)."""
    opens, closes = limits.opening
    found = []
    for agent, rows in _by_agent(day.redemptions).items():
        late = [r for r in rows if not opens <= r.at.astimezone(day.zone).hour < closes]
        if len(late) >= limits.outside_count:
            found.append(Signal(
                "outside_hours", "agent", agent, day.day,
                f"{len(late)} redemptions outside {opens:02d}:00-{closes:02d}:00",
                len(late), limits.outside_count, **_evidence(late)))
    return found


def refusal_cluster(day: Day, limits: Thresholds) -> list[Signal]:
    """Card refusals bunched at one agent: cards tried that are not the holder's, or a
    reader being probed."""
    found = []
    for agent, rows in _grouped(day.refusals, lambda r: r.agent).items():
        window = busiest_window(rows, limits.refusal_window, distinct=False)
        if len(window) >= limits.refusal_count:
            minutes = int(limits.refusal_window.total_seconds() // 60)
            found.append(Signal(
                "refusal_cluster", "agent", agent, day.day,
                f"{len(window)} card refusals within {minutes} minutes",
                len(window), limits.refusal_count, **_evidence(window)))
    return found


def offline_share(day: Day, limits: Thresholds) -> list[Signal]:
    """Most of an agent's takings redeemed offline, far more than its peers: redeeming
    out of the hub's sight, where no balance or card status is checked at the time."""
    online = defaultdict(int, {agent: sum(r.amount for r in rows)
                               for agent, rows in _by_agent(day.redemptions).items()})
    offline = _by_agent(day.offline)
    shares = {agent: sum(r.amount for r in offline.get(agent, ())) / total
              for agent in set(online) | set(offline)
              if (total := online[agent] + sum(r.amount for r in offline.get(agent, ())))}
    found = []
    for agent, rows in offline.items():
        share = shares.get(agent, 0.0)
        peers = [v for other, v in shares.items() if other != agent]
        usual = statistics.median(peers) if peers else 0.0
        if len(rows) >= limits.offline_count and share >= limits.offline_share \
                and share >= limits.offline_peer_factor * usual:
            found.append(Signal(
                "offline_share", "agent", agent, day.day,
                f"{len(rows)} offline redemptions, {share:.0%} of the day's takings "
                f"(other agents' median {usual:.0%})", round(share, 3),
                limits.offline_share, **_evidence(rows)))
    return found
