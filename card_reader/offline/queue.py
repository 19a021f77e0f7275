"""The terminal's durable queue of offline redemptions, in one SQLite file.

What the card signed is the agent's claim to be paid, and the citizen's money: it is
committed (WAL, synchronous=FULL) before the screen hears "queued", so a power cut
after that loses nothing. The per-terminal counter lives in the same file and only
grows: a counter is spent when drawn, even if the redemption then fails, so no two
redemptions of this terminal ever carry the same one, across restarts too. Rows stay
after they are synced (with the hub's result): the day's caps count them.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from card_reader.offline_wire import REFUSED, Result, SignedRedemption

QUEUE_FILE = "queue.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS counter (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS redemptions (
    key TEXT PRIMARY KEY,
    counter INTEGER NOT NULL UNIQUE,
    card_serial TEXT NOT NULL,
    programme TEXT NOT NULL,
    purse TEXT NOT NULL,
    amount INTEGER NOT NULL,
    local_day TEXT NOT NULL,
    signed TEXT NOT NULL,
    synced INTEGER NOT NULL DEFAULT 0,
    status TEXT,
    result TEXT
);
CREATE INDEX IF NOT EXISTS redemptions_day ON redemptions (local_day, card_serial);
CREATE INDEX IF NOT EXISTS redemptions_pending ON redemptions (synced, counter);
"""


@dataclass(frozen=True)
class Spent:
    """What a day's offline redemptions of one programme took so far: from this card,
    at this agent."""

    card: int
    agent: int


class OfflineQueue:
    """The queue file; one connection shared by the bridge's and the sync's threads."""

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / QUEUE_FILE
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def next_counter(self, above: int) -> int:
        """A new counter, higher than any drawn here and than `above` (the hub's)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute("SELECT value FROM counter WHERE id = 1").fetchone()
                value = max(row[0] if row else 0, above) + 1
                self._db.execute("INSERT INTO counter (id, value) VALUES (1, ?) "
                                 "ON CONFLICT (id) DO UPDATE SET value = excluded.value",
                                 (value,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return value

    def enqueue(self, signed: SignedRedemption, local_day: str) -> None:
        """Keep one signed redemption; committed to disk when this returns."""
        r = signed.redemption
        with self._lock:
            self._db.execute(
                "INSERT INTO redemptions (key, counter, card_serial, programme, purse, "
                "amount, local_day, signed) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (r.key, r.counter, r.card_serial, r.programme, r.purse, r.amount, local_day,
                 json.dumps(signed.to_dict(), sort_keys=True)))

    def spent(self, local_day: str, programme: str, card_serial: str) -> Spent:
        """What the day's offline redemptions of one programme took, queued or synced
        (a refused one paid nothing): from this card, and at this agent. Per programme,
        as the hub counts them: each programme's params set its own caps."""
        with self._lock:
            card, agent = self._db.execute(
                "SELECT COALESCE(SUM(CASE WHEN card_serial = ? THEN amount END), 0), "
                "COALESCE(SUM(amount), 0) FROM redemptions "
                "WHERE local_day = ? AND programme = ? AND (status IS NULL OR status != ?)",
                (card_serial, local_day, programme, REFUSED)).fetchone()
        return Spent(int(card), int(agent))

    def taken(self, local_day: str) -> int:
        """What the day's offline redemptions took at this agent, all programmes."""
        with self._lock:
            return int(self._db.execute(
                "SELECT COALESCE(SUM(amount), 0) FROM redemptions "
                "WHERE local_day = ? AND (status IS NULL OR status != ?)",
                (local_day, REFUSED)).fetchone()[0])

    def queued(self) -> int:
        """How many wait to be sent."""
        with self._lock:
            return int(self._db.execute(
                "SELECT COUNT(*) FROM redemptions WHERE synced = 0").fetchone()[0])

    def pending(self, limit: int) -> list[dict[str, Any]]:
        """The oldest unsent, as SignedRedemption dicts, in counter order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT signed FROM redemptions WHERE synced = 0 ORDER BY counter LIMIT ?",
                (limit,)).fetchall()
        return [json.loads(row[0]) for row in rows]

    def record(self, results: list[Result]) -> None:
        """The hub's final results: those redemptions are sent (in one transaction)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for result in results:
                    self._db.execute(
                        "UPDATE redemptions SET synced = 1, status = ?, result = ? "
                        "WHERE key = ?",
                        (result.status, json.dumps(result.to_dict(), sort_keys=True),
                         result.key))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def result(self, key: str) -> Result | None:
        """The hub's result for one redemption, once synced."""
        with self._lock:
            row = self._db.execute("SELECT result FROM redemptions WHERE key = ?",
                                   (key,)).fetchone()
        return Result.from_dict(json.loads(row[0])) if row and row[0] else None
