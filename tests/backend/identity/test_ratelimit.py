"""The sign-in throttle on its own: locks, backoff, holds, known sources, races."""

import datetime as dt
import threading

import pytest

from backend.db import database
from backend.errors import ApiError
from backend.identity import ratelimit
from backend.identity.ratelimit import Key, Policy
from backend.reasons import Reason

NOW = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
SMALL = Policy(pair_limit=3, source_limit=5, hold_after=6, base_lock=60, max_lock=600)


def reserve(key, policy=SMALL, at=NOW):
    """One try in its own transaction, as the sign-in does; the refusal reason or None."""
    try:
        with database().transaction() as tx:
            ratelimit.reserve(tx, key, policy, at)
    except ApiError as refusal:
        return refusal
    return None


def succeed(key, policy=SMALL, at=NOW):
    with database().transaction() as tx:
        ratelimit.settle_success(tx, key, policy, at)


def key(account="ani", source="203.0.113.5"):
    return Key("staff", account, source)


@pytest.mark.parametrize("address, expected", [
    ("203.0.113.5", "203.0.113.5"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
    ("::ffff:198.51.100.7", "198.51.100.7"),
    ("fe80::1%eth0", "fe80::/64"),
    ("not an address", "unknown"),
    (None, "unknown"),
])
def test_source_key_is_the_unit_an_attacker_pays_for(address, expected):
    assert ratelimit.source_key(address) == expected


def test_backoff_doubles_up_to_the_cap():
    policy = Policy(base_lock=60, max_lock=3600)
    assert [policy.lock_seconds(n, 5) for n in range(5, 13)] == [
        60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_pair_is_locked_after_its_limit_and_free_again_after_the_lock(app):
    for _ in range(SMALL.pair_limit):
        assert reserve(key()) is None
    refused = reserve(key())
    assert refused.reason == Reason.RATE_LIMITED and refused.status == 429
    assert reserve(key(), at=NOW + dt.timedelta(seconds=61)) is None


def test_each_failure_after_the_lock_doubles_it(app):
    for _ in range(SMALL.pair_limit):
        reserve(key())
    later = NOW + dt.timedelta(seconds=61)
    assert reserve(key(), at=later) is None  # the fourth try: locked for 120 s now
    refused = reserve(key(), at=later + dt.timedelta(seconds=100))
    assert refused.reason == Reason.RATE_LIMITED
    assert refused.details["retry_after"] == 21


def test_refused_tries_are_not_counted(app):
    for _ in range(SMALL.pair_limit + 5):
        reserve(key())
    assert reserve(key(), at=NOW + dt.timedelta(seconds=61)) is None


def test_another_source_is_not_affected_by_a_locked_pair(app):
    for _ in range(SMALL.pair_limit + 1):
        reserve(key(source="203.0.113.5"))
    assert reserve(key(source="198.51.100.9")) is None


def test_spraying_many_accounts_from_one_source_locks_the_source(app):
    for n in range(SMALL.source_limit):
        assert reserve(key(account=f"user{n}")) is None
    refused = reserve(key(account="someone-else"))
    assert refused.reason == Reason.RATE_LIMITED


def test_a_known_source_passes_a_source_lock(app):
    succeed(key(account="ani"))  # ani signed in from here before
    for n in range(SMALL.source_limit + 1):
        reserve(key(account=f"user{n}"))
    assert reserve(key(account="ani")) is None


def test_many_sources_put_the_account_on_hold_for_unknown_sources(app):
    for n in range(SMALL.hold_after):
        assert reserve(key(source=f"203.0.113.{n + 10}")) is None
    refused = reserve(key(source="192.0.2.77"))
    assert refused.reason == Reason.ACCOUNT_LOCKED and refused.status == 403


def test_a_known_source_still_signs_in_while_the_account_is_on_hold(app):
    succeed(key(source="198.51.100.20"))
    for n in range(SMALL.hold_after + 2):
        reserve(key(source=f"203.0.113.{n + 10}"))
    assert reserve(key(source="198.51.100.20")) is None


def test_the_hold_lasts_until_an_admin_lifts_it(app):
    for n in range(SMALL.hold_after):
        reserve(key(source=f"203.0.113.{n + 10}"))
    next_week = NOW + dt.timedelta(days=7)
    assert reserve(key(source="192.0.2.77"), at=next_week).reason == Reason.ACCOUNT_LOCKED
    with database().transaction() as tx:
        assert ratelimit.unlock(tx, "staff", "ani") > 0
    assert reserve(key(source="192.0.2.77"), at=next_week) is None


def test_success_gives_the_reservation_back(app):
    for _ in range(SMALL.pair_limit - 1):
        reserve(key())
    reserve(key())
    succeed(key())
    for _ in range(SMALL.pair_limit):
        assert reserve(key()) is None


def test_terminal_policy_has_no_hold(app):
    policy = ratelimit.TERMINAL_POLICY
    for n in range(120):
        assert reserve(Key("terminal", "tc_x", f"10.0.{n // 200}.{n % 200}"), policy) is None


def test_prune_forgets_stale_counters_but_keeps_known_sources_and_holds(app):
    reserve(key(account="stale"))
    succeed(key(account="known"))
    for n in range(SMALL.hold_after):
        reserve(key(account="held", source=f"203.0.113.{n + 10}"))
    with database().transaction() as tx:
        removed = ratelimit.prune(tx, SMALL, NOW + dt.timedelta(days=2))
        assert removed > 0
        assert ratelimit.is_held(tx, "staff", "held")
    succeed(key(account="known", source="192.0.2.1"))
    assert reserve(key(account="known"), at=NOW + dt.timedelta(days=2)) is None


def test_parallel_guesses_get_no_more_tries_than_sequential_ones(committing_app):
    """Twenty concurrent tries on one pair, each in its own connection: three get through."""
    target = key(account="race")
    barrier = threading.Barrier(20)
    outcomes = []

    def attempt():
        with committing_app.app_context():
            barrier.wait()
            outcomes.append(reserve(target))

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    allowed = [o for o in outcomes if o is None]
    assert len(outcomes) == 20
    assert len(allowed) == SMALL.pair_limit
