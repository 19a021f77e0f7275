"""Fixtures of the partition migrations' tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from backend.testing import databases


@pytest.fixture
def app_role() -> Iterator[str]:
    """A role of its own, standing for the hub's, whose grants a migration must keep."""
    name = f"sk_app_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(databases._admin_conninfo(), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {name}")
    yield name
    with psycopg.connect(databases._admin_conninfo(), autocommit=True) as conn:
        conn.execute(f"DROP ROLE IF EXISTS {name}")
