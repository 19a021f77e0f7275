"""Terminal rows remembered for card challenges, forgotten through the database.

A served hub answers a challenge from the terminal's row it remembers while a listener
of its own hears every change of that row (migration 0025); a change heard forgets it,
a refusal is never served from memory, and without a live listener every challenge
reads the row as before.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from flask import Flask
from sqlalchemy import event

from backend.app import create_app
from backend.db import database, libpq_url
from backend.identity import accounts, terminal_rows
from backend.identity.terminal_rows import TerminalRows
from backend.testing.identity import TerminalCredentials, bearer, make_terminal

pytestmark = [pytest.mark.postgres]
PATH_CHALLENGE = "/api/v1/auth/challenge"
WAIT = 20.0  # seconds a test waits for the listener before it fails


def _until(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@pytest.fixture
def hub(fresh_pg_url: str, instance_dir: Path) -> Iterator[Flask]:
    """The hub as served: no app context outlives a request, commits are real."""
    app = create_app(DATABASE_URL=fresh_pg_url, INSTANCE_DIR=str(instance_dir),
                     SECRET_KEY="test-secret-key-not-for-production",
                     ORIGIN="https://hub.test.satukartu")
    yield app
    remembered = app.extensions.get(terminal_rows.EXTENSION)
    if remembered is not None:
        remembered.close()
    app.extensions["satukartu.db"].engine.dispose()


@pytest.fixture
def terminal(hub: Flask) -> TerminalCredentials:
    return make_terminal(hub, "kiosk")


@pytest.fixture
def terminal_reads(hub: Flask) -> Iterator[list[str]]:
    """Each read of `terminals` the hub's requests send (the listener's own excluded)."""
    sent: list[str] = []

    def heard(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM terminals" in statement:
            sent.append(statement)

    engine = hub.extensions["satukartu.db"].engine
    event.listen(engine, "before_cursor_execute", heard)
    yield sent
    event.remove(engine, "before_cursor_execute", heard)


def _challenge(hub: Flask, terminal: TerminalCredentials) -> Any:
    return hub.test_client().post(PATH_CHALLENGE, headers=bearer(terminal.token))


def _remembering(hub: Flask, terminal: TerminalCredentials) -> TerminalRows:
    """Challenge until the listener is live and the terminal's row is remembered."""
    assert _challenge(hub, terminal).status_code == 200
    rows = terminal_rows.for_app(hub)
    assert rows is not None and _until(lambda: rows.live)
    assert _challenge(hub, terminal).status_code == 200  # read again, now kept
    return rows


def test_a_challenge_is_answered_from_memory_once_its_terminal_is_remembered(
        hub: Flask, terminal: TerminalCredentials, terminal_reads: list[str]):
    _remembering(hub, terminal)
    terminal_reads.clear()

    answers = [_challenge(hub, terminal) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert terminal_reads == []


def test_a_terminal_disabled_by_another_connection_is_refused_once_the_change_is_heard(
        hub: Flask, fresh_pg_url: str, terminal: TerminalCredentials):
    _remembering(hub, terminal)
    with psycopg.connect(libpq_url(fresh_pg_url), autocommit=True) as other:
        other.execute("UPDATE terminals SET enabled = false WHERE id = %s",
                      (terminal.terminal_id,))

    assert _until(lambda: _challenge(hub, terminal).status_code == 401)
    answer = _challenge(hub, terminal)
    assert answer.json["error"]["reason"] == "terminal_disabled"


def test_replaced_credentials_refuse_the_old_token_once_the_change_is_heard(
        hub: Flask, terminal: TerminalCredentials):
    _remembering(hub, terminal)
    with hub.app_context(), database().transaction() as tx:
        accounts.rotate_terminal_secret(tx, terminal.terminal_id)

    assert _until(lambda: _challenge(hub, terminal).status_code == 401)
    assert _challenge(hub, terminal).json["error"]["reason"] == "session_ended"


def test_the_token_still_judges_the_terminal_by_its_row_while_challenges_remember_it(
        hub: Flask, terminal: TerminalCredentials):
    rows = _remembering(hub, terminal)
    rows.lookup = lambda *_args: pytest.fail("the token must not use remembered rows")  # type: ignore[method-assign]

    answer = hub.test_client().post("/api/v1/auth/token", headers=bearer(terminal.token),
                                    data=b"{}")

    assert answer.status_code == 400  # judged by its own statement, then refused as malformed


def _listening(url: str) -> psycopg.Connection:
    listener = psycopg.connect(libpq_url(url), autocommit=True)
    listener.execute(f"LISTEN {terminal_rows.CHANNEL}")
    return listener


def _first_heard(listener: psycopg.Connection) -> str | None:
    """The first terminal notification (heartbeats of listening hubs skipped)."""
    for note in listener.notifies(timeout=WAIT):
        if not note.payload.startswith(terminal_rows.HEARTBEAT):
            return note.payload
    return None


def _set(url: str, statement: str, *params: Any) -> None:
    with psycopg.connect(libpq_url(url), autocommit=True) as other:
        other.execute(statement, params)


def test_writing_when_a_terminal_last_took_a_token_announces_nothing(
        fresh_pg_url: str, terminal: TerminalCredentials, hub: Flask):
    other = make_terminal(hub, "agent")
    with _listening(fresh_pg_url) as listener:
        _set(fresh_pg_url, "UPDATE terminals SET last_token_at = now(), name = 'renamed' "
             "WHERE id = %s", terminal.terminal_id)
        _set(fresh_pg_url, "UPDATE terminals SET enabled = false WHERE id = %s",
             other.terminal_id)

        assert _first_heard(listener) == other.terminal_id  # in commit order


def test_a_change_rolled_back_announces_nothing(fresh_pg_url: str, hub: Flask,
                                                terminal: TerminalCredentials):
    other = make_terminal(hub, "agent")
    with _listening(fresh_pg_url) as listener:
        with hub.app_context(), database().sessions() as tx:
            accounts.set_terminal_enabled(tx, terminal.terminal_id, False)
            tx.flush()
            tx.rollback()
        _set(fresh_pg_url, "UPDATE terminals SET enabled = false WHERE id = %s",
             other.terminal_id)

        assert _first_heard(listener) == other.terminal_id


@pytest.mark.parametrize(("statement", "heard"), [
    ("UPDATE terminals SET kind = 'agent' WHERE id = %s", "id"),
    ("UPDATE terminals SET token_generation = token_generation + 1 WHERE id = %s", "id"),
    ("DELETE FROM terminals WHERE id = %s", "id"),
    ("TRUNCATE terminals CASCADE", ""),
])
def test_a_change_that_can_refuse_a_terminal_is_announced(
        fresh_pg_url: str, terminal: TerminalCredentials, statement: str, heard: str):
    params = (terminal.terminal_id,) if "%s" in statement else ()
    with _listening(fresh_pg_url) as listener:
        _set(fresh_pg_url, statement, *params)

        assert _first_heard(listener) == (terminal.terminal_id if heard else "")


# --- the memory itself, against a real listener ---------------------------------------


class Reads:
    """A `read` callable that counts its calls and answers what the test sets."""

    def __init__(self, enabled: bool = True, generation: int = 0) -> None:
        self.row = SimpleNamespace(enabled=enabled, token_generation=generation)
        self.calls = 0
        self.during: Callable[[], None] = lambda: None

    def __call__(self) -> Any:
        self.calls += 1
        self.during()
        return self.row


def _passes(generation: int = 0) -> Callable[[Any], bool]:
    return lambda row: row.enabled and row.token_generation == generation


@pytest.fixture
def rows(fresh_pg_url: str, hub: Flask) -> Iterator[TerminalRows]:
    remembered = TerminalRows(libpq_url(fresh_pg_url), hub.extensions["satukartu.db"].engine)
    remembered.lookup("warm-up", Reads(), _passes())
    assert _until(lambda: remembered.live)
    yield remembered
    remembered.close()


def test_a_remembered_row_that_would_refuse_is_read_again(rows: TerminalRows):
    reads = Reads(generation=0)
    rows.lookup("t1", reads, _passes(0))
    reads.row = SimpleNamespace(enabled=True, token_generation=1)

    found = rows.lookup("t1", reads, _passes(1))  # a token of the new generation

    assert reads.calls == 2 and found.token_generation == 1


def test_a_refusing_row_is_never_remembered(rows: TerminalRows):
    reads = Reads(enabled=False)

    rows.lookup("t1", reads, _passes())
    rows.lookup("t1", reads, _passes())

    assert reads.calls == 2


def test_a_row_read_while_a_change_was_heard_is_not_kept(rows: TerminalRows):
    reads = Reads()
    reads.during = lambda: rows.forget("another terminal")

    rows.lookup("t1", reads, _passes())
    reads.during = lambda: None
    rows.lookup("t1", reads, _passes())
    rows.lookup("t1", reads, _passes())

    assert reads.calls == 2


def test_a_remembered_row_is_read_again_after_its_longest_age(
        rows: TerminalRows, monkeypatch: pytest.MonkeyPatch):
    reads = Reads()
    rows.lookup("t1", reads, _passes())
    rows.lookup("t1", reads, _passes())
    monkeypatch.setattr(terminal_rows, "MAX_AGE", 0.0)

    rows.lookup("t1", reads, _passes())

    assert reads.calls == 2


def test_a_listener_whose_connection_is_killed_forgets_everything_and_listens_again(
        rows: TerminalRows, fresh_pg_url: str):
    reads = Reads()
    rows.lookup("t1", reads, _passes())
    with psycopg.connect(libpq_url(fresh_pg_url), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE application_name = 'satukartu terminal rows' "
                      "AND datname = current_database()")

    assert _until(lambda: rows.losses == 1)
    assert reads.calls == 1  # nothing kept from before the loss: the next lookup reads
    rows.lookup("t1", reads, _passes())
    assert reads.calls == 2
    assert _until(lambda: rows.live)


def test_a_listener_that_hears_no_heartbeat_is_never_live(hub: Flask, fresh_pg_url: str):
    # Listening to another database than the one the hub writes to: LISTEN works,
    # the heartbeat sent through the hub's engine never arrives.
    elsewhere = fresh_pg_url.rsplit("/", 1)[0] + "/postgres"
    deaf = TerminalRows(libpq_url(elsewhere), hub.extensions["satukartu.db"].engine)
    reads = Reads()
    try:
        deaf.lookup("t1", reads, _passes())
        assert _until(lambda: _listener_connected(fresh_pg_url, "postgres"))
        for _ in range(3):
            deaf.lookup("t1", reads, _passes())
        assert reads.calls == 4 and not deaf.live
    finally:
        deaf.close()


def _listener_connected(url: str, database_name: str) -> bool:
    with psycopg.connect(libpq_url(url), autocommit=True) as admin:
        return admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
            "'satukartu terminal rows' AND datname = %s", (database_name,)).fetchone()[0] > 0


def test_a_listener_that_fails_in_any_way_keeps_nothing_and_starts_again(
        rows: TerminalRows, monkeypatch: pytest.MonkeyPatch):
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise TypeError("an unexpected failure in the listener")

    monkeypatch.setattr(psycopg.Connection, "notifies", broken)  # its next wait fails

    assert _until(lambda: rows.losses >= 1)
    reads = Reads()
    for _ in range(3):
        rows.lookup("t1", reads, _passes())
    assert reads.calls == 3 and not rows.live
    monkeypatch.undo()
    assert _until(lambda: rows.live)


def test_without_a_database_to_listen_to_every_lookup_reads(hub: Flask):
    unreachable = TerminalRows("postgresql://nobody@127.0.0.1:1/none",
                               hub.extensions["satukartu.db"].engine)
    reads = Reads()

    for _ in range(3):
        unreachable.lookup("t1", reads, _passes())

    assert reads.calls == 3 and not unreachable.live
    unreachable.close()


def test_lookups_from_many_threads_all_get_the_row(rows: TerminalRows):
    reads = Reads()
    found: list[Any] = []

    def ask() -> None:
        for _ in range(200):
            found.append(rows.lookup("t1", reads, _passes()))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(found) == 1600 and all(row is reads.row for row in found)
    assert reads.calls < 1600


# --- where nothing is remembered -------------------------------------------------------


def test_behind_a_transaction_pooler_nothing_is_remembered_without_a_listen_url(
        fresh_pg_url: str, instance_dir: Path):
    app = create_app(DATABASE_URL=fresh_pg_url, INSTANCE_DIR=str(instance_dir),
                     SECRET_KEY="test-secret-key-not-for-production",
                     DATABASE_POOLER="transaction")
    try:
        assert terminal_rows.for_app(app) is None
    finally:
        app.extensions["satukartu.db"].engine.dispose()


def test_behind_a_transaction_pooler_the_listen_url_is_listened_to(
        fresh_pg_url: str, instance_dir: Path):
    app = create_app(DATABASE_URL=fresh_pg_url, INSTANCE_DIR=str(instance_dir),
                     SECRET_KEY="test-secret-key-not-for-production",
                     DATABASE_POOLER="transaction", DATABASE_LISTEN_URL=fresh_pg_url)
    try:
        remembered = terminal_rows.for_app(app)
        assert remembered is not None
        assert remembered.conninfo == libpq_url(fresh_pg_url)
    finally:
        app.extensions["satukartu.db"].engine.dispose()


def test_tests_bound_to_one_transaction_remember_nothing(app: Flask):
    assert terminal_rows.for_app(app) is None
