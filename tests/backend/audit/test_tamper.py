"""Each kind of tampering, done as the tables' owner, is named with its first position.

Runs on a fresh SQLite file and on a fresh PostgreSQL database where the hub is the
application role and the tampering is done by the owner role with the append-only
triggers disabled.
"""

from sqlalchemy import text

from backend.audit.checkpoints import make_checkpoint
from backend.db import database
from tests.support.audit_store import rewrite_from, swap


def _kinds(report):
    return {f.kind: f.position for f in report.findings}


def test_untouched_chain_with_checkpoints_is_intact(audit_store):
    audit_store.fill(30, per_transaction=4)
    audit_store.checkpoint()
    audit_store.fill(5)
    audit_store.checkpoint()
    report = audit_store.verify()
    assert report.intact, report.to_dict()
    assert (report.records, report.checkpoints) == (35, 4)  # two in the table, two as files


def test_edited_field_is_named_at_its_record(audit_store):
    audit_store.fill(20)
    with audit_store.tamper() as owner:
        owner.execute(text("UPDATE audit_records SET purpose = 'curiosity' WHERE seq = 7"))
    assert _kinds(audit_store.verify()) == {"edited": 7}


def test_edited_details_are_named_at_their_record(audit_store):
    audit_store.fill(20)
    with audit_store.tamper() as owner:
        owner.execute(text("UPDATE audit_records SET details = :d WHERE seq = 12"),
                      {"d": '{"n":99}'})
    assert _kinds(audit_store.verify()) == {"edited": 12}


def test_deleted_record_is_named_as_the_gap(audit_store):
    audit_store.fill(20)
    with audit_store.tamper() as owner:
        owner.execute(text("DELETE FROM audit_records WHERE seq = 9"))
    assert _kinds(audit_store.verify()) == {"deleted": 9}


def test_two_swapped_records_are_named_at_the_first(audit_store):
    audit_store.fill(20)
    with audit_store.tamper() as owner:
        swap(owner, 5, 11)
    report = audit_store.verify()
    assert _kinds(report) == {"swapped": 5}
    assert "11" in report.first("swapped").detail


def test_adjacent_swap_is_named_too(audit_store):
    audit_store.fill(10)
    with audit_store.tamper() as owner:
        swap(owner, 3, 4)
    assert _kinds(audit_store.verify()) == {"swapped": 3}


def test_tail_truncated_below_the_last_checkpoint_is_named(audit_store):
    audit_store.fill(25)
    audit_store.checkpoint()
    with audit_store.tamper() as owner:
        owner.execute(text("DELETE FROM audit_records WHERE seq > 18"))
    assert _kinds(audit_store.verify()) == {"truncated": 19}


def test_tail_rewritten_with_recomputed_hashes_is_caught_by_the_checkpoint(audit_store):
    audit_store.fill(10)
    audit_store.checkpoint()
    audit_store.fill(10)
    audit_store.checkpoint()
    with audit_store.tamper() as owner:
        rewrite_from(owner, 14, purpose="nothing to see")
    report = audit_store.verify()
    assert _kinds(report) == {"rewritten": 11}
    assert "20" in report.first("rewritten").detail


def test_two_checkpoints_of_one_size_with_different_heads_are_a_fork(audit_store):
    audit_store.fill(12)
    audit_store.checkpoint()
    with audit_store.tamper() as owner:
        rewrite_from(owner, 3, actor="someone else")
    audit_store.checkpoint()  # the signer now vouches for the rewritten chain too
    report = audit_store.verify()
    assert _kinds(report)["fork"] == 12
    assert _kinds(report)["rewritten"] == 1


def test_forged_checkpoint_signature_is_named(audit_store, tmp_path):
    audit_store.fill(5)
    made = audit_store.checkpoint()
    directory = audit_store.app.config["AUDIT_CHECKPOINT_DIR"]
    path = f"{directory}/{made.name}.txt"
    with open(path, encoding="utf-8") as handle:
        body = handle.read()
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(body.replace("size 5", "size 4"))
    assert _kinds(audit_store.verify()) == {"bad_checkpoint": 4}


def test_each_kind_is_named_when_several_happened(audit_store):
    audit_store.fill(30)
    audit_store.checkpoint()
    with audit_store.tamper() as owner:
        owner.execute(text("UPDATE audit_records SET outcome = 'forbidden' WHERE seq = 4"))
        owner.execute(text("DELETE FROM audit_records WHERE seq = 10"))
        swap(owner, 15, 16)
        owner.execute(text("DELETE FROM audit_records WHERE seq > 27"))
    assert _kinds(audit_store.verify()) == {"edited": 4, "deleted": 10, "swapped": 15,
                                            "truncated": 28}


def test_checkpoint_is_not_repeated_when_the_chain_did_not_grow(audit_store):
    audit_store.fill(3)
    config = audit_store.app.config
    assert make_checkpoint(database(), config) is not None
    assert make_checkpoint(database(), config) is None


def test_backslashes_quotes_and_non_latin_text_verify_as_written(audit_store):
    from backend.audit import record

    with database().transaction() as sess:
        record(sess, action="registry.citizen.read", subject_id="C:\\share\\x41",
               purpose='checking "domicile" for สมชาย', details={"note": 'a\\b "c"\n'},
               citizen_id=5)
    audit_store.fill(2)
    report = audit_store.verify()
    assert report.intact and report.records == 3, report.to_dict()


def test_times_whose_microseconds_end_in_zeros_verify(audit_store):
    from datetime import UTC, datetime

    from backend.audit.append import append
    from backend.audit.record import make_entry

    entry = make_entry(None, action="test.time", subject_type=None, subject_id=None,
                       outcome="ok", purpose=None, details=None, citizen_id=None)
    with database().transaction() as sess:
        conn = sess.connection()
        for micro in (0, 120000, 5):
            append(conn, [entry], at=datetime(2031, 1, 1, 12, 0, 0, micro, tzinfo=UTC))
    report = audit_store.verify()
    assert report.intact and report.records == 3, report.to_dict()


def test_parallel_verification_names_the_same_first_positions(audit_store):
    audit_store.fill(40, per_transaction=8)
    audit_store.checkpoint()
    with audit_store.tamper() as owner:
        owner.execute(text("UPDATE audit_records SET role = 'admin' WHERE seq = 3"))
        owner.execute(text("DELETE FROM audit_records WHERE seq BETWEEN 12 AND 16"))
        swap(owner, 27, 28)
        owner.execute(text("DELETE FROM audit_records WHERE seq > 37"))
    expected = {"edited": 3, "deleted": 12, "swapped": 27, "truncated": 38}
    assert _kinds(audit_store.verify()) == expected
    for jobs in (2, 3, 5):  # cuts fall inside the gap, beside the swap, anywhere
        assert _kinds(audit_store.verify(jobs=jobs)) == expected, jobs


def test_parallel_verification_checks_the_links_across_cuts(audit_store):
    audit_store.fill(20)
    with audit_store.tamper() as owner:
        _recompute_one(owner, 10, purpose="edited, hash recomputed")
    one_pass = _kinds(audit_store.verify())
    assert one_pass == {"edited": 10}  # record 11 no longer links to it
    assert _kinds(audit_store.verify(jobs=2)) == one_pass  # the cut is at 11


def _recompute_one(conn, seq, **changes):
    from sqlalchemy import select

    from backend.audit.chain import canonical_text, leaf_hash, next_head
    from backend.audit.models import AuditRecord

    table = AuditRecord.__table__
    conn.execute(table.update().where(table.c.seq == seq).values(**changes))
    row = conn.execute(select(table).where(table.c.seq == seq)).one()
    new = next_head(row.prev_hash, leaf_hash(canonical_text(dict(row._mapping))))
    conn.execute(table.update().where(table.c.seq == seq).values(hash=new))


def test_parallel_verification_of_an_intact_chain(audit_store):
    audit_store.fill(25, per_transaction=5)
    audit_store.checkpoint()
    report = audit_store.verify(jobs=4)
    assert report.intact and report.records == 25, report.to_dict()
