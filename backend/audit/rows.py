"""The chain as the verifier reads it: each record's canonical bytes and its hashes.

One fast reader per database, because reading is most of a verification's cost:
PostgreSQL streams `COPY ... TO STDOUT` (about twice as fast as fetching rows) and
SQLite answers one SELECT; both join each record's fields into the canonical text
(chain.py) in the database. Both yield

    (seq, canonical bytes, details bytes, hex digest, hex prev_hash, hex hash)

and the verifier recomputes every hash from those in Python.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from sqlalchemy import Connection

from backend.db import driver_connection

Row = tuple[int, bytes, bytes, bytes, bytes, bytes]

# PostgreSQL joins the canonical text itself with plain string functions (to_char
# would double its share of the work): `at` as ISO text, whose trimmed trailing zeros
# rpad restores. That leaves the client six fields to split instead of sixteen to
# split and join. Functions are schema-qualified, so no search_path planted in the
# database can substitute its own; the hashing is all the verifier's.
_PG_COPY = """
COPY (SELECT seq,
             pg_catalog.concat_ws(E'\\x1f', seq,
                 pg_catalog.rpad(CASE WHEN pg_catalog.strpos(
                                          (at AT TIME ZONE 'UTC')::text, '.') = 0
                                      THEN (at AT TIME ZONE 'UTC')::text || '.'
                                      ELSE (at AT TIME ZONE 'UTC')::text END, 26, '0'),
                 COALESCE(actor_kind, ''), COALESCE(actor, ''), COALESCE(role, ''),
                 COALESCE(terminal_id, ''), COALESCE(action, ''),
                 COALESCE(subject_type, ''), COALESCE(subject_id, ''),
                 COALESCE(citizen_id::text, ''), COALESCE(purpose, ''),
                 COALESCE(outcome, ''), pg_catalog.encode(details_digest, 'hex')),
             details, pg_catalog.encode(details_digest, 'hex'),
             pg_catalog.encode(prev_hash, 'hex'), pg_catalog.encode(hash, 'hex')
      FROM audit_records {where} ORDER BY seq) TO STDOUT WITH (NULL '')
"""
_COPY_ESCAPE = re.compile(rb"\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)")
_COPY_NAMED = {b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"v": b"\v"}

_SQLITE_SELECT = """
SELECT seq,
       CAST(CAST(seq AS TEXT) || char(31) || COALESCE(CAST(at AS TEXT), '') || char(31)
       || COALESCE(actor_kind, '') || char(31) || COALESCE(actor, '') || char(31)
       || COALESCE(role, '') || char(31) || COALESCE(terminal_id, '') || char(31)
       || COALESCE(action, '') || char(31) || COALESCE(subject_type, '') || char(31)
       || COALESCE(subject_id, '') || char(31) || COALESCE(CAST(citizen_id AS TEXT), '')
       || char(31) || COALESCE(purpose, '') || char(31) || COALESCE(outcome, '')
       || char(31) || lower(hex(details_digest)) AS BLOB),
       CAST(details AS BLOB), CAST(lower(hex(details_digest)) AS BLOB),
       CAST(lower(hex(prev_hash)) AS BLOB), CAST(lower(hex(hash)) AS BLOB)
FROM audit_records {where} ORDER BY seq
"""


def read_chain(conn: Connection, first: int = 1, last: int | None = None) -> Iterator[Row]:
    """Every record with first <= seq (<= last), in seq order."""
    where = f"WHERE seq >= {int(first)}" + (f" AND seq <= {int(last)}" if last else "")
    if conn.dialect.name == "postgresql":
        return _postgresql(conn, where)
    return _sqlite(conn, where)


def _postgresql(conn: Connection, where: str) -> Iterator[Row]:
    conn.exec_driver_sql("SET LOCAL DateStyle = 'ISO'")
    conn.exec_driver_sql("SET LOCAL TimeZone = 'UTC'")
    # audit_records is partitioned by month (migration 0016): seq order is each
    # partition's key index merged (Merge Append), streaming in constant memory, where
    # the planner, counting on a small table, may pick a sort of the whole log instead.
    was = conn.exec_driver_sql("SELECT current_setting('enable_sort')").scalar()
    conn.exec_driver_sql("SET LOCAL enable_sort = off")
    raw = driver_connection(conn)
    with raw.cursor() as cursor, cursor.copy(_PG_COPY.format(where=where)) as copy:
        for block in copy:  # one COPY message per row
            line = bytes(block)
            parts = line[:-1].split(b"\t")
            if b"\\" in line or len(parts) != 6:
                parts = _unescaped(parts)
            yield int(parts[0]), parts[1], parts[2], parts[3], parts[4], parts[5]
    conn.exec_driver_sql(f"SET LOCAL enable_sort = {'on' if was == 'on' else 'off'}")


def _unescaped(parts: list[bytes]) -> list[bytes]:
    """COPY's text escapes undone (a backslash in a field; rare)."""
    parts = [_COPY_ESCAPE.sub(_unescape, part) for part in parts]
    return (parts + [b""] * 6)[:6]  # a malformed line fails verification, not the parse


def _unescape(match: re.Match[bytes]) -> bytes:
    code = match.group(1)
    if code in _COPY_NAMED:
        return _COPY_NAMED[code]
    if code[:1] == b"x" and len(code) > 1:
        return bytes([int(code[1:], 16)])
    if code[:1].isdigit():
        return bytes([int(code, 8) & 0xFF])
    return code


def _sqlite(conn: Connection, where: str) -> Iterator[Row]:
    raw = driver_connection(conn)
    cursor = raw.execute(_SQLITE_SELECT.format(where=where))
    try:
        while batch := cursor.fetchmany(20000):
            yield from batch
    finally:
        cursor.close()
