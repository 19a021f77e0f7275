"""Pooled connections are pinged only after sitting idle, and a dead idle one is replaced."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from backend import db

pytestmark = [pytest.mark.postgres]


def _pings(engine: Any, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    pinged: list[int] = []
    real = engine.dialect.do_ping

    def counting(dbapi: Any) -> bool:
        pinged.append(1)
        return real(dbapi)

    monkeypatch.setattr(engine.dialect, "do_ping", counting)
    return pinged


def _backend_pid(engine: Any) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


def _age_pooled(engine: Any, seconds: float) -> None:
    """Make the pooled connections look idle for `seconds` longer than they were."""
    with engine.connect() as conn:
        record = conn.connection._connection_record
    record.info[db._CHECKED_IN] -= seconds


def test_a_connection_back_in_use_at_once_is_not_pinged(pg_url: str, engine_for: Any,
                                                        monkeypatch: pytest.MonkeyPatch):
    engine = engine_for(pg_url)
    pinged = _pings(engine, monkeypatch)
    for _ in range(5):
        _backend_pid(engine)
    assert pinged == []


def test_an_idle_connection_is_pinged_and_replaced_when_dead(
        pg_url: str, engine_for: Any, monkeypatch: pytest.MonkeyPatch):
    engine = engine_for(pg_url)
    pinged = _pings(engine, monkeypatch)
    dead = _backend_pid(engine)
    _age_pooled(engine, db.IDLE_PING_SECONDS + 1)
    with engine_for(pg_url).connect() as other:
        other.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": dead})
        other.commit()

    fresh = _backend_pid(engine)  # no error: the ping found it dead, the pool reconnected

    assert pinged == [1]
    assert fresh != dead


_JIT = text("SELECT setting, source FROM pg_settings WHERE name = 'jit'")


def test_the_hubs_connections_run_without_jit(pg_url: str, engine_for: Any):
    with engine_for(pg_url).connect() as conn:
        assert tuple(conn.execute(_JIT).one()) == ("off", "client")


def test_through_a_transaction_pooler_no_session_option_is_sent(pg_url: str):
    engine = db.make_engine(pg_url, "transaction")
    try:
        with engine.connect() as conn:
            assert conn.execute(_JIT).one().source != "client"
    finally:
        engine.dispose()
