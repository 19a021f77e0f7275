"""Terminal rows remembered by each hub process for card challenges, forgotten through
the database the moment one changes.

A challenge writes nothing and reveals nothing: its nonce proves itself (`cards.nonces`),
and only the card token, judged against the terminal's row in the token's own statement
(`cards.authentication.authenticate_alone`), opens a session. Yet reading the
terminal's row for every challenge was a database round trip per authentication and
about a sixth of the hub's CPU for it (BENCHMARKS.md, "Terminal rows remembered").

So each process keeps the rows it read, and a connection of its own listening on
`satukartu_terminals`, where triggers (migration 0025) announce every change of a
terminal's kind, enabled flag or token generation, every deletion and every TRUNCATE,
as the change commits. Hearing it, the process forgets that row (all rows, for a
TRUNCATE). A disabled terminal is refused from the moment the notification reaches
the listener, milliseconds after the commit: that delay, for challenges alone, is the
whole difference from reading the row each time.

Nothing is taken on trust about the listener. It counts as live only while it hears
its own heartbeat, a notification sent every `BEAT` seconds through the hub's own
engine: so a listener that hears nothing (a wrong `DATABASE_LISTEN_URL`, a pooler that
swallows LISTEN, a primary left behind by a failover, a connection lost silently) is
not live within `BEAT` seconds, and a process that is not live keeps nothing and reads
every row. A row read while any notification arrived is not kept; none is served
longer than `MAX_AGE`; and only a row that lets the terminal in is served from memory,
a refusal is always read again (a token of a new generation may arrive before the
notification that says so). The listener ends after `IDLE` seconds without a lookup,
so a test's engine or a quiet hub holds no connection for it.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

import psycopg
from flask import Flask
from sqlalchemy import Engine, event, text

from backend.db import libpq_url

log = logging.getLogger(__name__)

CHANNEL = "satukartu_terminals"
EXTENSION = "satukartu.terminal_rows"
BEAT = 2.0  # seconds between heartbeats; one not heard by the next ends the live state
IDLE = 60.0  # seconds without a lookup after which the listener ends
MAX_AGE = 30.0  # seconds a remembered row is served before it is read again
MAX_ROWS = 20_000  # a city's terminals; past it, memory starts afresh
RETRY = (1.0, 30.0)  # the listener's first and longest pause after losing its connection
HEARTBEAT = "~"  # payloads starting with it are heartbeats, never terminal ids
# A dead peer is noticed within seconds, not at the kernel's default of hours.
_CONNECT: dict[str, Any] = {
    "application_name": "satukartu terminal rows", "connect_timeout": 5, "keepalives": 1,
    "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 2,
    "tcp_user_timeout": 5000}
_SEND = text("SELECT pg_catalog.pg_notify(:channel, :payload)")
_created = threading.Lock()


class ListenerLost(Exception):
    """The listener stopped hearing its own heartbeat."""


class TerminalRows:
    """One process's remembered rows for one database (see the module's docstring)."""

    def __init__(self, conninfo: str, owner: Engine) -> None:
        self.conninfo = conninfo
        self.owner = weakref.ref(owner)
        self.pid = os.getpid()
        self.losses = 0  # times the listener went from live to not live
        self._lock = threading.Lock()
        self._rows: dict[str, tuple[float, Any]] = {}  # id -> (when read, row)
        self._epoch = 0  # moves on every notification, and whenever live changes
        self._live = False
        self._used = time.monotonic()
        self._thread = 0  # the running listener's number; 0: none

    def lookup(self, terminal_id: str, read: Callable[[], Any],
               passes: Callable[[Any], bool]) -> Any:
        """The row `read` would give, from memory when the live listener vouches for it
        and the remembered row `passes`; otherwise read (and remember a passing row)."""
        now = time.monotonic()
        with self._lock:
            self._used = now
            self._start()
            kept = self._rows.get(terminal_id) if self._live else None
            epoch = self._epoch
        if kept is not None and now - kept[0] < MAX_AGE and passes(kept[1]):
            return kept[1]
        row = read()
        if row is not None and passes(row):
            with self._lock:
                if self._live and self._epoch == epoch:
                    if len(self._rows) >= MAX_ROWS:
                        self._rows.clear()
                    self._rows[terminal_id] = (now, row)
        return row

    def forget(self, terminal_id: str | None = None) -> None:
        """Forget one terminal's row (all, for None); rows being read now are not kept."""
        with self._lock:
            self._epoch += 1
            if terminal_id is None:
                self._rows.clear()
            else:
                self._rows.pop(terminal_id, None)

    @property
    def live(self) -> bool:
        """Whether rows are kept now: the listener hears its own heartbeat."""
        with self._lock:
            return self._live

    def close(self) -> None:
        """End the listener now (it would end after `IDLE` seconds anyway)."""
        with self._lock:
            self._thread = 0
            self._set_live(False)

    # --- the listener ------------------------------------------------------------------

    def _start(self) -> None:
        if not self._thread:
            self._thread = number = secrets.randbits(32) | 1
            threading.Thread(target=self._listen, args=(number,), name="terminal-rows",
                             daemon=True).start()

    def _wanted(self, number: int) -> bool:
        """Whether listener `number` should go on; if not, it is retired here."""
        with self._lock:
            if self._thread != number:
                return False
            if self.owner() is not None and time.monotonic() - self._used < IDLE:
                return True
            self._thread = 0
            self._set_live(False)
            return False

    def _set_live(self, live: bool) -> None:
        if self._live and not live:
            self.losses += 1
        self._live = live
        self._epoch += 1
        self._rows.clear()

    def _listen(self, number: int) -> None:
        pause = RETRY[0]
        try:
            while self._wanted(number):
                try:
                    self._hear(number)
                    return
                except Exception as exc:  # whatever it was, rows are read again
                    with self._lock:
                        self._set_live(False)
                    log.warning("terminal rows are read each time until the listener hears "
                                "its heartbeat again: %s", exc)
                    time.sleep(pause)
                    pause = min(pause * 2, RETRY[1])
        finally:
            with self._lock:
                if self._thread == number:
                    self._thread = 0
                    self._set_live(False)

    def _hear(self, number: int) -> None:
        """Listen until no longer wanted; raise when the heartbeat is not heard."""
        with psycopg.connect(self.conninfo, autocommit=True, **_CONNECT) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            awaited = self._beat()
            beat_at = time.monotonic()
            while self._wanted(number):
                for note in conn.notifies(timeout=max(0.0, beat_at + BEAT - time.monotonic())):
                    if not note.payload.startswith(HEARTBEAT):
                        self.forget(note.payload or None)
                    elif note.payload == awaited:
                        awaited = ""
                        with self._lock:
                            if not self._live and self._thread == number:
                                self._set_live(True)
                if time.monotonic() >= beat_at + BEAT:
                    if awaited:
                        raise ListenerLost(f"no heartbeat heard within {BEAT} s")
                    awaited, beat_at = self._beat(), time.monotonic()

    def _beat(self) -> str:
        """Send a heartbeat where the hub writes, to be heard where it listens."""
        engine = self.owner()
        if engine is None:
            raise ListenerLost("the hub's engine is gone")
        payload = f"{HEARTBEAT}{os.getpid()}.{secrets.token_hex(8)}"
        with engine.begin() as conn:
            conn.execute(_SEND, {"channel": CHANNEL, "payload": payload})
        return payload


def for_app(app: Flask) -> TerminalRows | None:
    """This process's remembered rows for the app's database, or None where none are
    kept: SQLite, sessions bound to an outer transaction (the tests'), or a transaction
    pooler without `DATABASE_LISTEN_URL`."""
    rows = app.extensions.get(EXTENSION)
    if rows is not None and rows.pid == os.getpid():
        return rows
    db = app.extensions["satukartu.db"]
    if db.dialect != "postgresql" or not db.reads_outside_transactions:
        return None
    url = app.config.get("DATABASE_LISTEN_URL") or (
        "" if app.config.get("DATABASE_POOLER") else
        db.engine.url.render_as_string(hide_password=False))
    if not url:
        return None
    with _created:  # two threads of a new worker make one, not two listeners
        rows = app.extensions.get(EXTENSION)
        if rows is None or rows.pid != os.getpid():
            rows = app.extensions[EXTENSION] = TerminalRows(libpq_url(url), db.engine)
            # An engine disposed of (a test's, at its end) takes its listener with it.
            event.listen(db.engine, "engine_disposed", lambda _engine: rows.close())
    return rows
