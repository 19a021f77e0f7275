"""PostgreSQL: a record commits with its change into the queue; the sequencer chains it."""

import threading

import pytest
from sqlalchemy import text

from backend.audit.append import LOCK_KEY
from backend.audit.checkpoints import make_checkpoint
from backend.audit.sequencer import settle
from backend.audit.verify import verify_app
from backend.db import database

pytestmark = pytest.mark.parametrize("audit_store", ["postgresql"], indirect=True)


def _queued(store):
    with store.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM audit_queue")).scalar()


def _lock_held(store):
    """Hold the chain's lock on another connection until the returned event is set."""
    taken, release = threading.Event(), threading.Event()
    engine = store.engine

    def hold():
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
            taken.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    assert taken.wait(10)
    return release, holder


def test_a_commits_records_are_chained_off_the_request_path_soon_after(audit_store):
    audit_store.fill(3, per_transaction=3)
    assert [r["seq"] for r in audit_store.chained_soon(3)] == [1, 2, 3]
    assert _queued(audit_store) == 0


def test_records_wait_in_the_queue_while_another_session_sequences(audit_store):
    release, holder = _lock_held(audit_store)
    try:
        audit_store.fill(2)
        assert audit_store.chained() == []
        assert _queued(audit_store) == 2  # committed with their change, not yet chained
    finally:
        release.set()
        holder.join()


def test_records_left_queued_by_a_busy_lock_are_chained_once_it_is_let_go(audit_store):
    release, holder = _lock_held(audit_store)
    audit_store.fill(2)
    release.set()
    holder.join()
    assert [r["action"] for r in audit_store.chained_soon(2)] == [
        "registry.citizen.read", "registry.citizen.read"]
    assert audit_store.verify().intact


def test_a_checkpoint_chains_what_is_queued_before_it_signs(audit_store):
    release, holder = _lock_held(audit_store)
    audit_store.fill(4)
    release.set()
    holder.join()
    made = make_checkpoint(database(), audit_store.app.config, force=True)
    assert made.size == 4
    assert audit_store.verify().intact


def test_settle_gives_up_waiting_for_a_lock_held_too_long(audit_store):
    release, holder = _lock_held(audit_store)
    try:
        audit_store.fill(1)
        assert settle(audit_store.engine, lock_timeout_ms=50) is None
        assert _queued(audit_store) == 1
    finally:
        release.set()
        holder.join()
    assert [r["seq"] for r in audit_store.chained_soon(1)] == [1]  # by settle or the sequencer


def test_a_record_the_chain_cannot_hold_is_refused_when_queued(audit_store):
    from sqlalchemy.exc import DBAPIError

    from backend.audit import record

    with pytest.raises(DBAPIError, match="out of range"), database().transaction() as sess:
        record(sess, action="bad.write", citizen_id=2**70)
    assert _queued(audit_store) == 0
    audit_store.fill(1)
    assert [r["seq"] for r in audit_store.records()] == [1]


def test_verifier_reports_records_left_unchained_too_long(audit_store):
    audit_store.fill(1)
    assert len(audit_store.chained_soon(1)) == 1  # and the sequencer is idle again
    with audit_store.tamper() as owner:  # as if the sequencer had failed for ten minutes
        owner.execute(text(
            "INSERT INTO audit_queue (at, actor_kind, action, outcome, details, details_digest) "
            "VALUES (clock_timestamp() - interval '10 minutes', 'system', 'stuck.write', 'ok', "
            "'{}', sha256('{}'))"))
    with audit_store.engine.connect() as conn:  # as a verifier that could not settle
        report = verify_app(conn, audit_store.app.config)
    assert [(f.kind, f.position, f.count) for f in report.findings] == [("unchained", 2, 1)]
    settle(audit_store.engine)
    assert audit_store.verify().intact


def test_a_queue_longer_than_a_batch_is_chained_in_order_in_one_settle(audit_store):
    release, holder = _lock_held(audit_store)
    audit_store.fill(2_345, per_transaction=500)  # three of the sequencer's batches
    release.set()
    holder.join()
    settle(audit_store.engine)
    chained = audit_store.chained()
    assert [r["seq"] for r in chained] == list(range(1, 2_346))
    assert [r["subject_id"] for r in chained] == [str(n) for n in range(1, 2_346)]
    assert _queued(audit_store) == 0
    assert audit_store.verify().intact


def test_a_record_queued_with_an_earlier_time_takes_the_heads_time(audit_store):
    audit_store.fill(1)
    head = audit_store.chained_soon(1)[0]
    with audit_store.tamper() as owner:  # a writer whose clock was behind the chain's head
        owner.execute(text(
            "INSERT INTO audit_queue (at, actor_kind, action, outcome, details, details_digest) "
            "VALUES (clock_timestamp() - interval '1 hour', 'system', 'late.write', 'ok', "
            "'{}', sha256('{}'))"))
    settle(audit_store.engine)
    late = audit_store.chained()[1]
    assert (late["action"], late["at"]) == ("late.write", head["at"])
    assert audit_store.verify().intact
