"""Test databases: a migrated PostgreSQL template per test worker, SQLite files likewise.

Each test gets a clean database: by default a transaction rolled back at its end;
tests of concurrency get a fresh copy of the migrated template.
"""

from __future__ import annotations

import os
import uuid

import psycopg
from psycopg import sql

from backend import migrations

ADMIN_URL = os.environ.get("SATUKARTU_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _admin_conninfo() -> str:
    return ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")


def pg_url_for(name: str) -> str:
    base = _admin_conninfo().rsplit("/", 1)[0]
    return f"{base}/{name}"


def create_pg_database(name: str, template: str | None = None) -> str:
    with psycopg.connect(_admin_conninfo(), autocommit=True) as conn:
        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            query = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template))
        conn.execute(query)
    return pg_url_for(name)


def drop_pg_database(name: str) -> None:
    with psycopg.connect(_admin_conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))


def unique_name(prefix: str) -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"{prefix}_{worker}_{os.getpid()}_{uuid.uuid4().hex[:6]}"


def migrated_pg_template() -> tuple[str, str]:
    """Create and migrate a template database; returns (name, url)."""
    name = unique_name("sk_tpl")
    url = create_pg_database(name)
    migrations.upgrade(url)
    return name, url


def pg_available() -> bool:
    try:
        with psycopg.connect(_admin_conninfo(), connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False
