"""Audit fixtures: read and verify the log from any test; a tamperable store for ours.

For everyone:

    def test_issue_is_audited(client, audit_log, audit_chain_intact):
        ...
        assert audit_log(action="card.issue")[-1]["outcome"] == "ok"
        audit_chain_intact()

`audit_log` lists the records the test's database holds (committed ones; the `app`
fixture's commits count), `audit_chain_intact` runs the real verifier on it and
fails the test with the verifier's findings if the chain is not intact.

The audit tests' own tamperable store is `tests/support/audit_store.py`, not here:
nothing that rewrites the log ships with the hub.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Connection, select

from backend.audit.models import AuditRecord
from backend.audit.sequencer import settle
from backend.audit.verify import Report, verify_app
from backend.db import database, session

_T = AuditRecord.__table__


def list_records(conn: Connection, **where: Any) -> list[dict[str, Any]]:
    query = select(_T).order_by(_T.c.seq)
    for column, value in where.items():
        query = query.where(_T.c[column] == value)
    return [dict(row._mapping) for row in conn.execute(query)]


@pytest.fixture
def audit_log(app: Flask) -> Callable[..., list[dict[str, Any]]]:
    """`audit_log(action=..., citizen_id=...)`: the records, oldest first, as dicts
    (after chaining what is queued, as the hub's readers do)."""
    def read(**where: Any) -> list[dict[str, Any]]:
        settle(database().engine)
        return list_records(session().connection(), **where)
    return read


@pytest.fixture
def audit_chain_intact(app: Flask) -> Callable[[], Report]:
    """`audit_chain_intact()`: verify the test database's chain; fail with the findings."""
    def check() -> Report:
        report = verify_app(session().connection(), app.config)
        assert report.intact, [f.to_dict() for f in report.findings]
        return report
    return check
