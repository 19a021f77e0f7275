"""Concurrent writers on PostgreSQL make one gap-free, unforked chain."""

import threading

import pytest
from sqlalchemy.orm import sessionmaker

from backend.audit import record
from backend.audit.checkpoints import make_checkpoint
from backend.audit.sequencer import settle
from backend.audit.verify import verify_app
from backend.db import make_engine
from backend.testing.audit import list_records

WRITERS = 50
EACH = 8


@pytest.mark.postgres
def test_fifty_concurrent_writers_make_one_gap_free_chain(committing_app, fresh_pg_url):
    engine = make_engine(fresh_pg_url, pool_size=WRITERS, max_overflow=0)
    sessions = sessionmaker(bind=engine)
    start = threading.Barrier(WRITERS)
    errors = []

    def writer(n):
        try:
            with sessions() as sess:
                sess.connection()  # every writer holds its own connection before the start
                sess.commit()
                start.wait()
                for i in range(EACH):
                    with sess.begin():
                        record(sess, action="test.concurrent.write", subject_id=f"{n}.{i}")
        except Exception as exc:  # reported below with the writer's number
            errors.append((n, repr(exc)))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    settle(engine)  # the last writers' tries can come while the holder commits
    with engine.connect() as conn:
        rows = list_records(conn)
    assert [r["seq"] for r in rows] == list(range(1, WRITERS * EACH + 1))
    assert {r["subject_id"] for r in rows} == {f"{n}.{i}" for n in range(WRITERS)
                                                for i in range(EACH)}
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(rows, rows[1:], strict=False))
    assert make_checkpoint(committing_app.extensions["satukartu.db"],
                           committing_app.config) is not None
    with engine.connect() as conn:
        report = verify_app(conn, committing_app.config)
    engine.dispose()
    assert report.intact and report.records == WRITERS * EACH, report.to_dict()


def test_every_database_function_takes_the_chains_one_lock():
    import importlib

    from backend.audit.append import LOCK_KEY

    migration = importlib.import_module("backend.migrations.versions.0007_audit_queue")
    for function in (migration.PG_APPEND, migration.PG_SEQUENCE):
        assert f"advisory_xact_lock({LOCK_KEY})" in function
