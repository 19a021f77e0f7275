"""The hub behind PgBouncer in transaction mode, a real one: what a city puts between
many hub processes and one PostgreSQL so that their connections share a few of the
server's. The hub takes only transaction-level advisory locks, `SET LOCAL`, and no
LISTEN, so what transaction pooling breaks is the driver's prepared statements, which
`SATUKARTU_DATABASE_POOLER=transaction` turns off."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from backend.app import create_app
from backend.audit.sequencer import settle
from backend.audit.verify import verify_app
from backend.cards import ca as ca_module
from backend.cards.context import state
from backend.db import database
from backend.testing.cards import ask_challenge, make_soft_card, present_token, record_soft_card
from backend.testing.identity import make_terminal
from backend.testing.registry import make_citizen
from tests.support.private_services import _port_open, free_port, wait_until

pytestmark = [pytest.mark.postgres,
              pytest.mark.skipif(not shutil.which("pgbouncer", path="/usr/sbin:/usr/bin"),
                                 reason="pgbouncer is installed by ./run setup")]
ORIGIN = "https://hub.test.satukartu"
SERVER_CONNECTIONS = 2


@pytest.fixture
def pgbouncer(fresh_pg_url: str, tmp_path: Path) -> Iterator[str]:
    """A PgBouncer in transaction mode with SERVER_CONNECTIONS to the test's database;
    yields the URL through it."""
    url = make_url(fresh_pg_url)
    port = free_port()
    folder = tmp_path / "pgbouncer"
    folder.mkdir()
    folder.chmod(0o755)  # it drops to an unprivileged user, who reads the file
    config = folder / "pgbouncer.ini"
    config.write_text(
        f"[databases]\n{url.database} = host={url.host} port={url.port or 5432} "
        f"user={url.username}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        "auth_type = any\npool_mode = transaction\n"
        f"default_pool_size = {SERVER_CONNECTIONS}\nmax_client_conn = 200\n"
        "ignore_startup_parameters = extra_float_digits,options\n")
    config.chmod(0o644)
    process = subprocess.Popen(["/usr/sbin/pgbouncer", "-u", "nobody", str(config)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: _port_open(port) or process.poll() is not None, 10, "pgbouncer")
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        yield url.set(port=port).render_as_string(hide_password=False)
    finally:
        process.terminate()
        process.wait(10)


def _hub(url: str, instance_dir: Path, pooler: str) -> Flask:
    return create_app(DATABASE_URL=url, DATABASE_POOLER=pooler, INSTANCE_DIR=str(instance_dir),
                      SECRET_KEY="test-secret-key-not-for-production", ORIGIN=ORIGIN)


def _authenticate_many(hub: Flask, times: int, streams: int) -> list[int]:
    """`times` full card authentications from `streams` threads at once: each its own
    challenge, signature and token, as kiosks do."""
    issuing = ca_module.init_ca(hub.config["CA_DIR"], "Kota Uji")
    state(hub).reload()
    with hub.app_context():
        holder = make_citizen()
        card = make_soft_card(issuing, holder.national_number, holder.id)
        record_soft_card(card)
    terminal = make_terminal(hub, "kiosk")

    def one(_n: int) -> int:
        client = hub.test_client()
        nonce = ask_challenge(client, terminal.token)
        return present_token(client, terminal.token, card.token(nonce, ORIGIN)).status_code

    with ThreadPoolExecutor(streams) as pool:
        return list(pool.map(one, range(times)))


def test_card_authentications_through_a_transaction_pooler_all_succeed_and_chain(
        pgbouncer: str, instance_dir: Path):
    hub = _hub(pgbouncer, instance_dir, "transaction")
    try:
        assert _authenticate_many(hub, 60, 8) == [200] * 60
        with hub.app_context():
            settle(database().engine)
            with database().engine.connect() as conn:
                report = verify_app(conn, hub.config)
                opened = conn.execute(text("SELECT count(*) FROM card_sessions")).scalar()
        assert report.intact and opened == 60
    finally:
        hub.extensions["satukartu.db"].engine.dispose()


def test_the_hub_shares_the_poolers_few_server_connections(pgbouncer: str, instance_dir: Path,
                                                           fresh_pg_url: str):
    hub = _hub(pgbouncer, instance_dir, "transaction")
    try:
        _authenticate_many(hub, 30, 8)
        direct = create_app(DATABASE_URL=fresh_pg_url, INSTANCE_DIR=str(instance_dir))
        with direct.app_context(), database().engine.connect() as conn:
            served = conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()")).scalar()
        direct.extensions["satukartu.db"].engine.dispose()
        assert 1 <= served <= SERVER_CONNECTIONS  # the hub itself held up to 8 at once
    finally:
        hub.extensions["satukartu.db"].engine.dispose()


def test_without_the_setting_prepared_statements_break_behind_the_pooler(
        pgbouncer: str, instance_dir: Path):
    hub = _hub(pgbouncer, instance_dir, "")
    try:
        with hub.app_context(), pytest.raises(DBAPIError, match="prepared statement"):
            for _ in range(20):  # prepared on the fifth run, then run on another server
                with database().engine.connect() as one, database().engine.connect() as two:
                    for conn in (one, two):
                        conn.execute(text("SELECT count(*) FROM citizens WHERE id > :n"),
                                     {"n": 0}).scalar()
                        conn.commit()
    finally:
        hub.extensions["satukartu.db"].engine.dispose()
