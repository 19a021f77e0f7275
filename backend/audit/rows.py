"""The chain as the verifier reads it: each record's canonical bytes and its hashes.

One fast reader per database, because reading is most of a verification's cost:
PostgreSQL streams `COPY ... TO STDOUT` (about twice as fast as fetching rows) and
SQLite returns the canonical text from one concatenating SELECT. Both yield

    (seq, canonical bytes, details bytes, details digest, prev_hash, hash)

and the verifier recomputes every hash from those in Python.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from sqlalchemy import Connection

Row = tuple[int, bytes, bytes, bytes, bytes, bytes]

_PG_COPY = """
COPY (SELECT seq, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), actor_kind,
             actor, role, terminal_id, action, subject_type, subject_id, citizen_id,
             purpose, outcome, encode(details_digest, 'hex'), details,
             encode(prev_hash, 'hex'), encode(hash, 'hex')
      FROM audit_records {where} ORDER BY seq) TO STDOUT WITH (NULL '')
"""

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

_COPY_ESCAPE = re.compile(rb"\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)")
_COPY_NAMED = {b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"v": b"\v"}


def read_chain(conn: Connection, first: int = 1, last: int | None = None) -> Iterator[Row]:
    """Every record with first <= seq (<= last), in seq order."""
    where = f"WHERE seq >= {int(first)}" + (f" AND seq <= {int(last)}" if last else "")
    if conn.dialect.name == "postgresql":
        return _postgresql(conn, where)
    return _sqlite(conn, where)


def _postgresql(conn: Connection, where: str) -> Iterator[Row]:
    raw = conn.connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(_PG_COPY.format(where=where)) as copy:
        for block in copy:  # one COPY message per row
            line = bytes(block)
            yield _parse_copy_line(line[:-1] if line.endswith(b"\n") else line)


def _parse_copy_line(line: bytes) -> Row:
    parts = line.split(b"\t")
    if b"\\" in line:
        parts = [_COPY_ESCAPE.sub(_unescape, part) for part in parts]
    if len(parts) != 16:
        parts = (parts + [b""] * 16)[:16]
    return int(parts[0]), b"\x1f".join(parts[:13]), parts[13], parts[12], parts[14], parts[15]


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
    raw = conn.connection.driver_connection
    cursor = raw.execute(_SQLITE_SELECT.format(where=where))
    try:
        while batch := cursor.fetchmany(20000):
            yield from batch
    finally:
        cursor.close()
