"""One pooled connection per request; who-is-calling reads outside its transaction.

On PostgreSQL with sessions on the engine (as served, unlike the savepoint-bound
`app` fixture), a card challenge costs at most its terminal's read alone in autocommit
(none once the row is remembered: test_terminal_rows.py): no BEGIN, no COMMIT. A token
judges the terminal and opens the session with one statement, also alone in autocommit,
which spends the nonce and queues the session's audit record in the same transaction
and commits without waiting for the disk, on nonces bound to the database server's
run; a refused token leaves its nonce spent and nothing else; and a disabled terminal
is still refused on its very next token.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, func, select, text

from backend.app import create_app
from backend.audit.chain import details_json
from backend.audit.models import AuditRecord
from backend.audit.sequencer import settle
from backend.audit.verify import verify_app
from backend.cards import ca as ca_module
from backend.cards import lifecycle
from backend.cards.context import state
from backend.cards.models import CardSession
from backend.db import database
from backend.identity import accounts
from backend.testing.cards import (
    SoftCard,
    ask_challenge,
    make_soft_card,
    present_token,
    record_soft_card,
)
from backend.testing.identity import TerminalCredentials, bearer, make_terminal
from backend.testing.registry import make_citizen
from card_reader.wire import b64encode as wire_b64

pytestmark = [pytest.mark.postgres]
ORIGIN = "https://hub.test.satukartu"
PATH_CHALLENGE = "/api/v1/auth/challenge"


@pytest.fixture
def hub(fresh_pg_url: str, instance_dir: Path) -> Iterator[Flask]:
    """The hub as served: no app context outlives a request, commits are real."""
    app = create_app(DATABASE_URL=fresh_pg_url, INSTANCE_DIR=str(instance_dir),
                     SECRET_KEY="test-secret-key-not-for-production", ORIGIN=ORIGIN)
    yield app
    app.extensions["satukartu.db"].engine.dispose()


@pytest.fixture
def wire(hub: Flask) -> Iterator[list[tuple[str, bool]]]:
    """Each statement the hub sends for the test's requests, with whether its connection
    was in autocommit (the audit sequencer's own, from its thread, left out)."""
    sent: list[tuple[str, bool]] = []
    engine = hub.extensions["satukartu.db"].engine
    requests = threading.get_ident()

    def heard(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if threading.get_ident() == requests:
            sent.append((statement, conn.connection.driver_connection.autocommit))

    event.listen(engine, "before_cursor_execute", heard)
    yield sent
    event.remove(engine, "before_cursor_execute", heard)


@pytest.fixture
def terminal(hub: Flask) -> TerminalCredentials:
    return make_terminal(hub, "kiosk")


@pytest.fixture
def card(hub: Flask) -> SoftCard:
    issuing = ca_module.init_ca(hub.config["CA_DIR"], "Kota Uji")
    state(hub).reload()
    with hub.app_context():
        holder = make_citizen()
        made = make_soft_card(issuing, holder.national_number, holder.id)
        record_soft_card(made)
    return made


def _count(hub: Flask, model: Any) -> int:
    with hub.app_context():
        settle(database().engine)  # audit records as the hub's readers see them: chained
        with database().transaction() as tx:
            return tx.execute(select(func.count()).select_from(model)).scalar_one()


def test_a_challenge_reads_its_terminal_in_autocommit_and_begins_nothing(
        hub: Flask, terminal: TerminalCredentials, wire: list[tuple[str, bool]]):
    answer = hub.test_client().post(PATH_CHALLENGE, headers=bearer(terminal.token))

    assert answer.status_code == 200, answer.json
    assert len(wire) == 1 and "FROM terminals" in wire[0][0]
    assert wire[0][1] is True  # autocommit: psycopg sent no BEGIN, nothing to COMMIT


def _card_auth_records(hub: Flask) -> list[Any]:
    with hub.app_context():
        settle(database().engine)
        with database().transaction() as tx:
            return list(tx.execute(select(AuditRecord.__table__).where(
                AuditRecord.action == "card.auth").order_by(AuditRecord.seq)))


def test_a_token_opens_its_session_in_one_statement_with_its_audit_record(
        hub: Flask, terminal: TerminalCredentials, card: SoftCard,
        wire: list[tuple[str, bool]]):
    client = hub.test_client()
    nonce = ask_challenge(client, terminal.token)
    audited = _count(hub, AuditRecord)
    wire.clear()

    answer = present_token(client, terminal.token, card.token(nonce, ORIGIN))

    assert answer.status_code == 200, answer.json
    assert len(wire) == 1 and wire[0][1] is True  # one statement, its own transaction
    assert all(table in wire[0][0] for table in (
        "FROM terminals", "card_challenges", "card_sessions", "audit_queue"))
    assert _count(hub, CardSession) == 1
    assert _count(hub, AuditRecord) == audited + 1


def test_the_tokens_audit_record_is_the_one_its_session_would_write(
        hub: Flask, terminal: TerminalCredentials, card: SoftCard):
    client = hub.test_client()
    for key_ref in ("9A", "9E"):
        nonce = ask_challenge(client, terminal.token)
        token = card.token(nonce, ORIGIN, key_ref=key_ref)
        assert present_token(client, terminal.token, token).status_code == 200

    records = _card_auth_records(hub)

    assert [r.details for r in records] == [
        details_json({"certificate": hashlib.sha256(card.der(ref)).hexdigest()})
        for ref in ("9A", "9E")]
    for found in records:
        assert (found.actor_kind, found.actor, found.role, found.terminal_id,
                found.subject_type, found.subject_id, found.citizen_id, found.purpose,
                found.outcome) == ("card", card.serial, "kiosk", terminal.terminal_id,
                                   "card", card.serial, card.citizen_id, None, "ok")
        assert found.details_digest == hashlib.sha256(found.details.encode()).digest()
    with hub.app_context(), database().engine.connect() as conn:
        assert verify_app(conn, hub.config).intact


def test_a_revoked_card_is_refused_its_nonce_spent_and_nothing_opened(
        hub: Flask, terminal: TerminalCredentials, card: SoftCard):
    with hub.app_context(), database().transaction() as tx:
        lifecycle.revoke(tx, card.serial, "keyCompromise")
    client = hub.test_client()
    nonce = ask_challenge(client, terminal.token)
    token = card.token(nonce, ORIGIN)

    answer = present_token(client, terminal.token, token)
    again = present_token(client, terminal.token, token)

    assert answer.status_code == 403 and answer.json["error"]["reason"] == "card_revoked"
    assert again.status_code == 401 and again.json["error"]["reason"] == "nonce_reused"
    assert _count(hub, CardSession) == 0
    assert _card_auth_records(hub) == []


def test_a_bad_signature_is_refused_after_the_card_and_spends_its_nonce(
        hub: Flask, terminal: TerminalCredentials, card: SoftCard):
    client = hub.test_client()
    nonce = ask_challenge(client, terminal.token)
    forged = card.token(nonce, ORIGIN, signature=wire_b64(card.sign("9E", ORIGIN, b"x" * 64)))

    answer = present_token(client, terminal.token, forged)
    honest = present_token(client, terminal.token, card.token(nonce, ORIGIN))

    assert answer.status_code == 401 and answer.json["error"]["reason"] == "signature_invalid"
    assert honest.status_code == 401 and honest.json["error"]["reason"] == "nonce_reused"
    assert _count(hub, CardSession) == 0
    assert _card_auth_records(hub) == []
    with hub.app_context(), database().engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM card_challenges")).scalar() == 1


def test_connections_go_back_to_the_pool_out_of_autocommit(
        hub: Flask, terminal: TerminalCredentials):
    engine = hub.extensions["satukartu.db"].engine
    returned: list[bool] = []

    def checked_in(dbapi: Any, _record: Any) -> None:
        returned.append(dbapi.autocommit)

    event.listen(engine, "checkin", checked_in)
    try:
        for _ in range(3):
            hub.test_client().post(PATH_CHALLENGE, headers=bearer(terminal.token))
    finally:
        event.remove(engine, "checkin", checked_in)
    # one per request, and the audit sequencer's own, whenever it chains (same engine)
    assert len(returned) >= 3 and not any(returned), returned


def test_a_disabled_terminal_is_refused_on_its_very_next_request(
        hub: Flask, terminal: TerminalCredentials):
    client = hub.test_client()
    assert client.post(PATH_CHALLENGE, headers=bearer(terminal.token)).status_code == 200
    with hub.app_context(), database().transaction() as tx:
        accounts.set_terminal_enabled(tx, terminal.terminal_id, False)

    answer = client.post(PATH_CHALLENGE, headers=bearer(terminal.token))

    assert answer.status_code == 401
    assert answer.json["error"]["reason"] == "terminal_disabled"


def test_a_reused_nonce_is_refused_and_the_first_session_stands(
        hub: Flask, terminal: TerminalCredentials, card: SoftCard):
    client = hub.test_client()
    nonce = ask_challenge(client, terminal.token)
    token = card.token(nonce, ORIGIN)
    assert present_token(client, terminal.token, token).status_code == 200

    again = present_token(client, terminal.token, token)

    assert again.status_code == 401 and again.json["error"]["reason"] == "nonce_reused"
    assert _count(hub, CardSession) == 1


def _disable(hub: Flask, terminal: TerminalCredentials) -> None:
    with hub.app_context(), database().transaction() as tx:
        accounts.set_terminal_enabled(tx, terminal.terminal_id, False)


def _spent_nonces(hub: Flask) -> int:
    with hub.app_context(), database().engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM card_challenges")).scalar_one()


def test_a_token_from_a_terminal_disabled_since_its_challenge_spends_and_opens_nothing(
        hub: Flask, terminal: TerminalCredentials, card: SoftCard):
    client = hub.test_client()
    nonce = ask_challenge(client, terminal.token)
    _disable(hub, terminal)

    answer = present_token(client, terminal.token, card.token(nonce, ORIGIN))

    assert answer.status_code == 401, answer.json
    assert answer.json["error"]["reason"] == "terminal_disabled"
    assert _spent_nonces(hub) == 0 and _count(hub, CardSession) == 0
    assert _card_auth_records(hub) == []
    with hub.app_context():
        settle(database().engine)
        with database().transaction() as tx:
            refused = tx.execute(select(AuditRecord.__table__).where(
                AuditRecord.action == "api.cards.token")).one()
    assert (refused.outcome, refused.actor_kind) == ("terminal_disabled", "anonymous")


@pytest.mark.parametrize("token", [b"not json", b"{}"])
def test_a_disabled_terminal_is_refused_before_its_malformed_token(
        hub: Flask, terminal: TerminalCredentials, token: bytes):
    _disable(hub, terminal)

    answer = present_token(hub.test_client(), terminal.token, token)

    assert answer.status_code == 401
    assert answer.json["error"]["reason"] == "terminal_disabled"


def test_a_disabled_terminal_is_refused_before_an_unknown_nonce(
        hub: Flask, terminal: TerminalCredentials, card: SoftCard):
    _disable(hub, terminal)

    answer = present_token(hub.test_client(), terminal.token, card.token(b"n" * 64, ORIGIN))

    assert answer.status_code == 401
    assert answer.json["error"]["reason"] == "terminal_disabled"


def test_a_token_on_replaced_terminal_credentials_is_refused_and_spends_nothing(
        hub: Flask, terminal: TerminalCredentials, card: SoftCard):
    client = hub.test_client()
    nonce = ask_challenge(client, terminal.token)
    with hub.app_context(), database().transaction() as tx:
        accounts.rotate_terminal_secret(tx, terminal.terminal_id)

    answer = present_token(client, terminal.token, card.token(nonce, ORIGIN))

    assert answer.status_code == 401 and answer.json["error"]["reason"] == "session_ended"
    assert _spent_nonces(hub) == 0 and _count(hub, CardSession) == 0


# --- the token's commit, which does not wait for the disk ---------------------------------


def _run(hub: Flask, statement: str) -> Any:
    with hub.app_context(), database().engine.begin() as conn:
        result = conn.execute(text(statement))
        return result.scalar() if result.returns_rows else None


def test_the_database_run_is_known_from_the_first_connection(hub: Flask):
    run = _run(hub, "SELECT run::text FROM database_run")

    assert run and hub.extensions["satukartu.db"].server_run == run


def test_a_token_commits_without_waiting_for_the_disk_and_its_connection_waits_again(
        hub: Flask, terminal: TerminalCredentials, card: SoftCard):
    client = hub.test_client()
    nonce = ask_challenge(client, terminal.token)
    used: list[tuple[str, int]] = []

    def heard(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        used.append((statement, conn.connection.driver_connection.info.backend_pid))

    engine = hub.extensions["satukartu.db"].engine
    event.listen(engine, "before_cursor_execute", heard)
    try:
        assert present_token(client, terminal.token, card.token(nonce, ORIGIN)).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", heard)

    [(statement, pid)] = [u for u in used if "card_sessions" in u[0]]
    assert "set_config('synchronous_commit', 'off', true)" in statement
    assert _setting_on_connection(engine, pid) == "on"  # ended with its transaction


def _setting_on_connection(engine: Any, pid: int) -> str:
    """`synchronous_commit` on the pooled connection to backend `pid`."""
    held = []
    try:
        for _ in range(engine.pool.size() + engine.pool.overflow() + 1):
            conn = engine.connect()
            held.append(conn)
            if conn.connection.driver_connection.info.backend_pid == pid:
                return conn.execute(text("SHOW synchronous_commit")).scalar_one()
    finally:
        for conn in held:
            conn.close()
    raise AssertionError(f"no pooled connection to backend {pid}")


def test_a_nonce_issued_before_a_crash_recovery_is_refused_and_spends_nothing(
        hub: Flask, terminal: TerminalCredentials, card: SoftCard):
    client = hub.test_client()
    nonce = ask_challenge(client, terminal.token)
    _run(hub, "TRUNCATE database_run")  # what crash recovery does to an unlogged table

    answer = present_token(client, terminal.token, card.token(nonce, ORIGIN))

    assert answer.status_code == 401 and answer.json["error"]["reason"] == "nonce_expired"
    assert _spent_nonces(hub) == 0 and _count(hub, CardSession) == 0


def test_after_a_crash_recovery_the_next_challenge_opens_a_session_in_a_new_run(
        hub: Flask, terminal: TerminalCredentials, card: SoftCard):
    client = hub.test_client()
    before = _run(hub, "SELECT run::text FROM database_run")
    stale = ask_challenge(client, terminal.token)
    _run(hub, "TRUNCATE database_run")
    present_token(client, terminal.token, card.token(stale, ORIGIN))

    nonce = ask_challenge(client, terminal.token)
    answer = present_token(client, terminal.token, card.token(nonce, ORIGIN))

    assert answer.status_code == 200, answer.json
    assert _run(hub, "SELECT run::text FROM database_run") not in (None, before)


def test_a_process_behind_on_the_run_learns_it_from_the_refused_token(
        hub: Flask, terminal: TerminalCredentials, card: SoftCard):
    # Through a pooler, connections outlive a failover: no connect event says so.
    client = hub.test_client()
    ask_challenge(client, terminal.token)
    _run(hub, "UPDATE database_run SET run = gen_random_uuid()")
    stale = ask_challenge(client, terminal.token)

    refused = present_token(client, terminal.token, card.token(stale, ORIGIN))
    nonce = ask_challenge(client, terminal.token)
    answer = present_token(client, terminal.token, card.token(nonce, ORIGIN))

    assert refused.json["error"]["reason"] == "nonce_expired"
    assert answer.status_code == 200, answer.json


def test_a_nonce_of_an_earlier_run_proves_nothing_once_the_new_run_is_known(
        hub: Flask, terminal: TerminalCredentials, card: SoftCard):
    client = hub.test_client()
    ask_challenge(client, terminal.token)
    db = hub.extensions["satukartu.db"]
    current = db.server_run
    db.server_run = "an earlier run"
    nonce = ask_challenge(client, terminal.token)
    db.server_run = current

    answer = present_token(client, terminal.token, card.token(nonce, ORIGIN))

    assert answer.status_code == 401 and answer.json["error"]["reason"] == "nonce_unknown"
    assert _spent_nonces(hub) == 0 and _count(hub, CardSession) == 0
