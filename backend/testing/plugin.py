"""The `satukartu` pytest plugin: the hub's fixtures for anyone testing a programme module.

Installing the hub registers it (entry point `pytest11`), so a module's own tests get
`app`, `client`, `citizen`, `card_session`, `call_service`, `fund`, `audit_log` and the
rest with no conftest of their own (`-p no:satukartu` turns it off). This file holds
the core ones (a hub app on each database, a clean database per test, a client) and
loads the others.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import sessionmaker

from backend import migrations
from backend.app import create_app
from backend.db import make_engine
from backend.testing import databases

pytest_plugins = [
    "backend.testing.registry",
    "backend.testing.identity",
    "backend.testing.cards",
    "backend.testing.services",
    "backend.testing.eligibility",
    "backend.testing.audit",
]

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def pg_template() -> Iterator[tuple[str, str]]:
    """A migrated PostgreSQL database used as the template for fresh copies."""
    name, url = databases.migrated_pg_template()
    yield name, url
    databases.drop_pg_database(name)


@pytest.fixture(scope="session")
def pg_session_url(pg_template: tuple[str, str]) -> Iterator[str]:
    name = databases.unique_name("sk_test")
    url = databases.create_pg_database(name, template=pg_template[0])
    yield url
    databases.drop_pg_database(name)


@pytest.fixture(scope="session")
def sqlite_session_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("sqlite") / "satukartu.db"
    url = f"sqlite:///{path}"
    migrations.upgrade(url)
    return url


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest) -> str:
    """The URL of a migrated database, once per backend (the test runs twice)."""
    return request.getfixturevalue(f"{'pg' if request.param == 'postgresql' else 'sqlite'}"
                                   "_session_url")


@pytest.fixture
def pg_url(pg_session_url: str) -> str:
    """PostgreSQL only, for behaviour only PostgreSQL has (roles, concurrency)."""
    return pg_session_url


@pytest.fixture
def fresh_pg_url(pg_template: tuple[str, str]) -> Iterator[str]:
    """A fresh copy of the migrated schema, for tests that commit from many connections."""
    name = databases.unique_name("sk_fresh")
    url = databases.create_pg_database(name, template=pg_template[0])
    yield url
    databases.drop_pg_database(name)


@pytest.fixture
def instance_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "instance"
    path.mkdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _app_on(url: str, instance_dir: Path) -> Flask:
    return create_app(DATABASE_URL=url, INSTANCE_DIR=str(instance_dir),
                      SECRET_KEY="test-secret-key-not-for-production",
                      ORIGIN="https://hub.test.satukartu")


@pytest.fixture
def app(db_url: str, instance_dir: Path) -> Iterator[Flask]:
    """A hub whose every commit lands in a transaction rolled back after the test."""
    application = _app_on(db_url, instance_dir)
    database = application.extensions["satukartu.db"]
    connection = database.engine.connect()
    outer = connection.begin()
    database.sessions = sessionmaker(bind=connection, expire_on_commit=False,
                                     join_transaction_mode="create_savepoint")
    with application.app_context():
        yield application
    outer.rollback()
    connection.close()
    database.engine.dispose()


@pytest.fixture
def committing_app(fresh_pg_url: str, instance_dir: Path) -> Iterator[Flask]:
    """A hub on a fresh PostgreSQL database whose commits are real (concurrency tests)."""
    application = _app_on(fresh_pg_url, instance_dir)
    with application.app_context():
        yield application
    application.extensions["satukartu.db"].engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def engine_for():
    """Make an engine for a URL and dispose of it after the test."""
    engines = []

    def make(url: str):
        engine = make_engine(url)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.dispose()
