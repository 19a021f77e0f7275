"""Alembic environment: the hub's engine and metadata, online migrations only.

Autogenerate (`satukartu db revision`) compares by backend.migrations.compare's rules;
the caller may pass a `process_revision_directives` hook in the config's attributes.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from backend.db import Base, make_engine
from backend.migrations.compare import options
from backend.models import import_all

import_all()
target_metadata = Base.metadata


def run() -> None:
    url = context.config.attributes.get("database_url")
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    engine = make_engine(url, poolclass=None) if url else None
    assert engine is not None, "no database URL given"
    with engine.connect() as conn:
        _migrate(conn)
        conn.commit()
    engine.dispose()


def _migrate(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite",
                      process_revision_directives=context.config.attributes.get(
                          "process_revision_directives"),
                      **options(connection.dialect.name))
    with context.begin_transaction():
        context.run_migrations()


run()
