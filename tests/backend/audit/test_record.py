"""record(): one record per call, in the caller's transaction, chained in order."""

from sqlalchemy import text

from backend.audit import record, record_read
from backend.auth.principal import CardContext, Principal
from backend.db import session

CLERK = Principal(kind="staff", subject="ani", role="clerk", terminal_id="T-COUNTER-1")
CARD = Principal(kind="card", subject="C-0001", role="kiosk", terminal_id="T-KIOSK-1",
                 card=CardContext(session_id="s1", card_serial="C-0001", citizen_id=77,
                                  assurance="pin", terminal_id="T-KIOSK-1"))


def test_record_is_written_when_the_transaction_commits(app, audit_log):
    record(session(), action="card.issue", subject_type="card", subject_id="C-0001",
           details={"reason": "new"}, principal=CLERK, citizen_id=77)
    session().commit()
    [entry] = audit_log(action="card.issue")
    assert (entry["actor_kind"], entry["actor"], entry["role"], entry["terminal_id"]) == (
        "staff", "ani", "clerk", "T-COUNTER-1")
    assert (entry["subject_id"], entry["citizen_id"], entry["outcome"]) == ("C-0001", 77, "ok")
    assert entry["details"] == '{"reason":"new"}'


def test_rolled_back_change_leaves_no_record(app, audit_log):
    record(session(), action="card.issue", principal=CLERK)
    session().rollback()
    session().commit()
    assert audit_log(action="card.issue") == []


def test_rolled_back_savepoint_takes_its_records_with_it(app, audit_log):
    sess = session()
    with sess.begin_nested():
        record(sess, action="kept.one", principal=CLERK)
    savepoint = sess.begin_nested()
    record(sess, action="dropped.one", principal=CLERK)
    savepoint.rollback()
    sess.commit()
    assert [e["action"] for e in audit_log()] [-1:] == ["kept.one"]
    assert audit_log(action="dropped.one") == []


def test_closed_session_does_not_carry_records_into_the_next_transaction(app, audit_log):
    sess = session()
    record(sess, action="abandoned.one", principal=CLERK)
    sess.close()
    record(sess, action="next.one", principal=CLERK)
    sess.commit()
    assert audit_log(action="abandoned.one") == []
    assert len(audit_log(action="next.one")) == 1


def test_record_and_change_commit_together(app, audit_log):
    sess = session()
    sess.execute(text("CREATE TEMPORARY TABLE audit_probe (x INTEGER)"))
    sess.execute(text("INSERT INTO audit_probe VALUES (1)"))
    record(sess, action="probe.write", principal=CLERK)
    sess.commit()
    assert sess.execute(text("SELECT count(*) FROM audit_probe")).scalar() == 1
    assert len(audit_log(action="probe.write")) == 1


def test_records_of_one_transaction_are_consecutive_and_linked(app, audit_log,
                                                               audit_chain_intact):
    for n in range(3):
        record(session(), action=f"step.{n}", principal=CLERK)
    session().commit()
    entries = audit_log()[-3:]
    assert [e["action"] for e in entries] == ["step.0", "step.1", "step.2"]
    assert [e["seq"] for e in entries] == list(range(entries[0]["seq"], entries[0]["seq"] + 3))
    assert entries[1]["prev_hash"] == entries[0]["hash"]
    audit_chain_intact()


def test_card_session_names_its_holder_as_the_citizen(app, audit_log):
    record(session(), action="service.food.redeem", principal=CARD)
    session().commit()
    [entry] = audit_log(action="service.food.redeem")
    assert (entry["actor_kind"], entry["actor"], entry["role"], entry["citizen_id"]) == (
        "card", "C-0001", "kiosk", 77)


def test_read_of_personal_data_lists_the_fields_read(app, audit_log):
    record_read(session(), 77, "clinic visit", ["address", "full_name"], principal=CLERK)
    session().commit()
    [entry] = audit_log(action="citizen.data.read")
    assert (entry["citizen_id"], entry["purpose"]) == (77, "clinic visit")
    assert entry["details"] == '{"fields":["address","full_name"]}'


def test_control_characters_never_reach_the_chain(app, audit_log, audit_chain_intact):
    record(session(), action="odd.input", subject_id="a\x1fb\tc\nd", principal=CLERK)
    session().commit()
    assert audit_log(action="odd.input")[0]["subject_id"] == "abcd"
    audit_chain_intact()


def test_without_a_principal_outside_a_request_the_actor_is_the_system(app, audit_log):
    record(session(), action="task.nightly")
    session().commit()
    assert audit_log(action="task.nightly")[0]["actor_kind"] == "system"


# --- with real commits (on PostgreSQL the append rides on the COMMIT itself) -------

def _probe_table(audit_store):
    """A table the hub's role may write, made by the owner."""
    with audit_store.tamper() as owner:
        owner.execute(text("CREATE TABLE audit_probe (x INTEGER)"))
        if audit_store.dialect == "postgresql":
            owner.execute(text("GRANT SELECT, INSERT ON audit_probe TO PUBLIC"))


def test_committed_change_and_record_land_together(audit_store):
    from backend.db import database

    _probe_table(audit_store)
    with database().transaction() as sess:
        sess.execute(text("INSERT INTO audit_probe VALUES (1)"))
        record(sess, action="probe.write", principal=CLERK)
    assert [r["action"] for r in audit_store.records()] == ["probe.write"]
    assert audit_store.verify().intact


def test_failing_append_takes_the_change_down_with_it(audit_store):
    import pytest
    from sqlalchemy.exc import DBAPIError

    from backend.db import database

    _probe_table(audit_store)
    with pytest.raises((DBAPIError, OverflowError)), database().transaction() as sess:
        sess.execute(text("INSERT INTO audit_probe VALUES (2)"))
        record(sess, action="probe.write", citizen_id=2**70)  # no database stores this
    with database().transaction() as sess:
        assert sess.execute(text("SELECT count(*) FROM audit_probe")).scalar() == 0
    assert audit_store.records() == []


def test_rolled_back_transaction_appends_nothing_and_the_next_one_chains(audit_store):
    from backend.db import database

    class Abandon(Exception):
        pass

    try:
        with database().transaction() as sess:
            record(sess, action="abandoned.one", principal=CLERK)
            raise Abandon
    except Abandon:
        pass
    with database().transaction() as sess:
        record(sess, action="kept.one", principal=CLERK)
        record(sess, action="kept.two", principal=CLERK)
    assert [r["action"] for r in audit_store.records()] == ["kept.one", "kept.two"]
    assert audit_store.verify().intact
