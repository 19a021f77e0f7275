"""Recording a synthetic card for every living citizen without one, in bulk.

Certificates are made in worker processes (the CPU is in the signatures, ~0.2 ms a
card: `synthetic.py`), chunks of citizens streamed to them by id while the rows
that come back are copied into the cards table: COPY on PostgreSQL, executemany on
SQLite. All of it is one transaction, with one audit record for the whole batch, so
a failure leaves no card behind. When the batch at least doubles the cards table,
its indexes and constraints are built after the copy (`registry.bulk`): a duplicate
still fails the whole batch, at that point.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from backend import audit
from backend.cards.synthetic import COLUMNS, CardMaker
from backend.db import driver_connection
from backend.registry import bulk

CHUNK = 2000  # citizens per task: large enough that a task's overhead is noise

DUE = "synthetic_cards_due"
_WITHOUT_CARD = """
    FROM citizens c WHERE c.died_on IS NULL AND NOT EXISTS (
        SELECT 1 FROM cards k WHERE k.citizen_id = c.id
        AND k.status IN ('active', 'suspended'))"""


@dataclass(frozen=True)
class CardsReport:
    cards: int
    seconds: float
    jobs: int


def due(conn: Connection) -> int:
    """How many citizens would get a card."""
    return int(conn.execute(sa.text("SELECT count(*)" + _WITHOUT_CARD)).scalar_one())


def issue_cards(engine: Engine, maker: CardMaker, *, validity_days: int,
                jobs: int | None = None, progress: Callable[[int], None] | None = None
                ) -> CardsReport:
    """Give every living citizen without a live card a synthetic card, all or nothing.

    `progress(n)` is called with the cards recorded since the last call.
    """
    started = time.perf_counter()
    jobs = max(1, jobs or os.cpu_count() or 1)
    issued = dt.datetime.now(dt.UTC).replace(microsecond=0)
    expires = issued + dt.timedelta(days=validity_days)
    count = 0
    with engine.connect() as conn, conn.begin():
        pg = conn.dialect.name == "postgresql"
        incoming = _list_due(conn)
        existing = int(conn.execute(sa.text("SELECT count(*) FROM cards")).scalar_one())
        rebuild = pg and incoming >= max(existing, 1000) and _owns_cards(conn)
        with bulk.indexes_built_after(conn, ("cards",)) if rebuild else nullcontext():
            for rows in _made(conn, maker, issued, expires, jobs):
                (_copy if pg else _insert)(conn, rows)
                count += len(rows)
                if progress is not None:
                    progress(len(rows))
        audit.record(conn, action="card.synthetic_issue", subject_type="cards",
                     subject_id=str(count), details={
                         "cards": count, "issued_at": issued.isoformat(),
                         "expires_at": expires.isoformat(),
                         "note": "synthetic cards: keys derived from the CA's card-key secret"})
        conn.exec_driver_sql(f"DROP TABLE {DUE}")
        if pg:
            conn.exec_driver_sql("ANALYZE cards")
    return CardsReport(count, time.perf_counter() - started, jobs)


def _list_due(conn: Connection) -> int:
    """Who gets a card, listed once before any is added: with the cards table's indexes
    dropped for the copy, asking again per chunk would scan every card made so far."""
    on_commit = " ON COMMIT DROP" if conn.dialect.name == "postgresql" else ""
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {DUE}")
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {DUE} (id integer PRIMARY KEY, "
                         f"national_number varchar(32) NOT NULL){on_commit}")
    return conn.execute(sa.text(f"INSERT INTO {DUE} (id, national_number) "
                                "SELECT c.id, c.national_number" + _WITHOUT_CARD)).rowcount


def _owns_cards(conn: Connection) -> bool:
    """A restricted role that does not own the table keeps its indexes (and pays)."""
    return bool(conn.execute(sa.text(
        "SELECT pg_has_role(current_user, relowner, 'USAGE') FROM pg_class "
        "WHERE oid = 'cards'::regclass")).scalar())


def _chunks(conn: Connection) -> Iterator[list[tuple[int, str]]]:
    """The citizens due a card, a chunk at a time by id (keyset, so each read is short)."""
    # Constant names only: the temporary table and the chunk size.
    query = sa.text(f"SELECT id, national_number FROM {DUE} "  # noqa: S608 # nosec B608
                    f"WHERE id > :after ORDER BY id LIMIT {CHUNK}")
    after = 0
    while True:
        chunk = [(row[0], row[1]) for row in conn.execute(query, {"after": after})]
        if not chunk:
            return
        yield chunk
        after = chunk[-1][0]


def _made(conn: Connection, maker: CardMaker, issued: dt.datetime, expires: dt.datetime,
          jobs: int) -> Iterator[list[tuple[Any, ...]]]:
    """Rows of made cards, chunk by chunk in order; at most 2 x jobs chunks in flight."""
    if jobs == 1:
        for chunk in _chunks(conn):
            yield _make_chunk(maker, chunk, issued, expires)
        return
    with _pool(maker, jobs) as pool:
        pending: deque[Future[list[tuple[Any, ...]]]] = deque()
        for chunk in _chunks(conn):
            pending.append(pool.submit(_make_in_worker, chunk, issued, expires))
            if len(pending) >= 2 * jobs:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


@contextmanager
def _pool(maker: CardMaker, jobs: int) -> Iterator[ProcessPoolExecutor]:
    # spawn, not fork: the parent holds open database connections a child must not share.
    with ProcessPoolExecutor(jobs, mp_context=get_context("spawn"),
                             initializer=_start_worker, initargs=(maker.portable(),)) as pool:
        yield pool


_WORKER: dict[str, CardMaker] = {}


def _start_worker(parts: tuple[bytes, bytes, bytes, bytes]) -> None:
    _WORKER["maker"] = CardMaker.from_portable(parts)


def _make_in_worker(chunk: list[tuple[int, str]], issued: dt.datetime,
                    expires: dt.datetime) -> list[tuple[Any, ...]]:
    return _make_chunk(_WORKER["maker"], chunk, issued, expires)


def _make_chunk(maker: CardMaker, chunk: list[tuple[int, str]], issued: dt.datetime,
                expires: dt.datetime) -> list[tuple[Any, ...]]:
    return [maker.row(citizen_id, number, issued, expires) for citizen_id, number in chunk]


def _copy(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    cursor = driver_connection(conn).cursor()
    with cursor.copy(f"COPY cards ({', '.join(COLUMNS)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _insert(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    from backend.cards.store import cards

    conn.execute(cards.insert(), [dict(zip(COLUMNS, row, strict=True)) for row in rows])
