"""Terminal rows remembered by each hub process for card challenges, forgotten through
the database the moment one changes.

A challenge writes nothing and reveals nothing: its nonce proves itself (`cards.nonces`),
and only the card token, judged against the terminal's row in the token's own statement
(`cards.authentication.authenticate_alone`), opens a session. Yet reading the
terminal's row for every challenge was a database round trip per authentication and
about a fifth of the hub's CPU for it (BENCHMARKS.md, "Terminal rows remembered").

So each process keeps the rows it read, and a connection of its own listening on
`satukartu_terminals`, where a trigger (migration 0025) announces every change of a
terminal's kind, enabled flag or token generation, and every deletion, as the change
commits. Hearing it, the process forgets that row. A disabled terminal is refused from
the moment the notification reaches the listener (milliseconds), not from the
commit: that is the whole difference from reading the row each time, and it holds for
challenges alone.

Only a row that lets the terminal in is served from memory; a refusal is always read
again (a token of a new generation may arrive before the notification that says so).
A row read while any notification arrived is not kept, and none is kept longer than
`MAX_AGE`, which bounds what a silently broken listener could miss (it also pings its
connection every `POLL` seconds, with TCP keepalives and a user timeout). Without a live
listener (its connection lost, SQLite, a transaction pooler with no direct URL to
listen on) nothing is kept and every lookup reads. The listener ends after `IDLE` seconds without a
lookup, so a test's engine or a quiet hub holds no connection for it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

import psycopg
from flask import Flask
from sqlalchemy import Engine

log = logging.getLogger(__name__)

CHANNEL = "satukartu_terminals"
EXTENSION = "satukartu.terminal_rows"
IDLE = 60.0  # seconds without a lookup after which the listener ends
POLL = 1.0  # seconds between the listener's pings and checks that it is still wanted
MAX_AGE = 30.0  # seconds a remembered row is served before it is read again
MAX_ROWS = 20_000  # a city's terminals; past it, memory starts afresh
RETRY = (1.0, 30.0)  # the listener's first and longest pause after losing its connection
# A dead peer is noticed within seconds, not at the kernel's default of hours.
_CONNECT = {"application_name": "satukartu terminal rows", "connect_timeout": 5,
            "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2,
            "keepalives_count": 2, "tcp_user_timeout": 5000}


class TerminalRows:
    """One process's remembered rows for one database (see the module's docstring)."""

    def __init__(self, conninfo: str, owner: Engine) -> None:
        self.conninfo = conninfo
        self.owner = weakref.ref(owner)
        self.pid = os.getpid()
        self._lock = threading.Lock()
        self._rows: dict[str, tuple[float, Any]] = {}  # id -> (when read, row)
        self._epoch = 0  # moves on every notification, connection and loss
        self._live = False
        self._used = time.monotonic()
        self._listening = False

    def lookup(self, terminal_id: str, read: Callable[[], Any],
               passes: Callable[[Any], bool]) -> Any:
        """The row `read` would give, from memory when a live listener vouches for it
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
        with self._lock:
            return self._live

    def _start(self) -> None:
        if not self._listening:
            self._listening = True
            threading.Thread(target=self._listen, name="terminal-rows", daemon=True).start()

    def _wanted(self) -> bool:
        with self._lock:
            wanted = (self.owner() is not None and time.monotonic() - self._used < IDLE)
            if not wanted:
                self._listening = False
                self._set_live(False)
            return wanted

    def _set_live(self, live: bool) -> None:
        self._live = live
        self._epoch += 1
        self._rows.clear()

    def _listen(self) -> None:
        pause = RETRY[0]
        while self._wanted():
            try:
                with psycopg.connect(self.conninfo, autocommit=True, **_CONNECT) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    with self._lock:
                        self._set_live(True)
                    pause = RETRY[0]
                    while self._wanted():
                        for note in conn.notifies(timeout=POLL):
                            self.forget(note.payload or None)
                        conn.execute("SELECT 1")  # a connection lost silently fails here
            except psycopg.Error as exc:
                with self._lock:
                    self._set_live(False)
                log.warning("terminal rows are read each time until the database "
                            "listens again: %s", exc)
                time.sleep(pause)
                pause = min(pause * 2, RETRY[1])


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
        "" if app.config.get("DATABASE_POOLER") else db.engine.url)
    if not url:
        return None
    conninfo = url if isinstance(url, str) else url.set(drivername="postgresql").render_as_string(
        hide_password=False)
    rows = app.extensions[EXTENSION] = TerminalRows(_plain(conninfo), db.engine)
    return rows


def _plain(conninfo: str) -> str:
    """A libpq URL from an SQLAlchemy one (`postgresql+psycopg://` is not libpq's)."""
    scheme, sep, rest = conninfo.partition("://")
    return f"{scheme.split('+', 1)[0]}{sep}{rest}" if sep else conninfo
