"""The chain as the verifier reads it: each record's canonical bytes and its hashes.

One fast reader per database, because reading is most of a verification's cost:
PostgreSQL streams `COPY ... TO STDOUT` (about twice as fast as fetching rows) and
SQLite answers one SELECT that joins each record's fields into the canonical text
(chain.py) itself. Both yield

    (seq, canonical bytes, details bytes, hex digest, hex prev_hash, hex hash)

and the verifier recomputes every hash from those in Python.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from sqlalchemy import Connection

Row = tuple[int, bytes, bytes, bytes, bytes, bytes]

# Plain columns cost PostgreSQL the least to send (formatting functions such as
# to_char or hex-encoding every field doubled its share); the client joins them.
# Only the hashes are hex, and `at` is ISO text whose trailing zeros PostgreSQL trims.
_PG_COPY = """
COPY (SELECT seq, (at AT TIME ZONE 'UTC')::text, actor_kind, actor, role, terminal_id,
             action, subject_type, subject_id, citizen_id, purpose, outcome,
             pg_catalog.encode(details_digest, 'hex'), details,
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
    raw = conn.connection.driver_connection
    join = b"\x1f".join
    with raw.cursor() as cursor, cursor.copy(_PG_COPY.format(where=where)) as copy:
        for block in copy:  # one COPY message per row
            line = bytes(block)
            parts = line[:-1].split(b"\t")
            if b"\\" in line or len(parts) != 16:
                parts = _unescaped(parts)
            if len(parts[1]) != 26:  # 2026-11-26 16:00:00.123456, zeros trimmed
                parts[1] = _full_microseconds(parts[1])
            yield int(parts[0]), join(parts[:13]), parts[13], parts[12], parts[14], parts[15]


def _unescaped(parts: list[bytes]) -> list[bytes]:
    """COPY's text escapes undone (a backslash in a field; rare)."""
    parts = [_COPY_ESCAPE.sub(_unescape, part) for part in parts]
    return (parts + [b""] * 16)[:16]  # a malformed line fails verification, not the parse


def _unescape(match: re.Match[bytes]) -> bytes:
    code = match.group(1)
    if code in _COPY_NAMED:
        return _COPY_NAMED[code]
    if code[:1] == b"x" and len(code) > 1:
        return bytes([int(code[1:], 16)])
    if code[:1].isdigit():
        return bytes([int(code, 8) & 0xFF])
    return code


def _full_microseconds(at: bytes) -> bytes:
    whole, dot, fraction = at.partition(b".")
    return whole + b"." + fraction.ljust(6, b"0") if len(whole) == 19 else at


def _sqlite(conn: Connection, where: str) -> Iterator[Row]:
    raw = conn.connection.driver_connection
    cursor = raw.execute(_SQLITE_SELECT.format(where=where))
    try:
        while batch := cursor.fetchmany(20000):
            yield from batch
    finally:
        cursor.close()
