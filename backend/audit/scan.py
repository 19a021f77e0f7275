"""The verifier's one pass over the chain, whole or in parallel slices.

For each record: is its hash the hash of its own fields and its stored prev_hash (an
edited field fails here), is its prev_hash the previous record's hash (a link), is
there a hole in the sequence (a deleted record). What failed is kept for verify.py
to judge. This loop is the verifier's cost (bench/bench_audit.py): three SHA-256 per
record and nothing else.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
from binascii import unhexlify
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Connection

from backend.audit.append import head
from backend.audit.chain import LEAF_PREFIX, NODE_PREFIX, SEPARATORS, ZERO_HASH
from backend.audit.rows import Row, read_chain
from backend.db import make_engine

ZERO_HEX = ZERO_HASH.hex().encode()
UNKNOWN = b"?"  # the link into a slice that does not start at 1, checked by merge()
MAX_SUSPECTS = 10_000  # failing records kept; beyond this they are only counted


@dataclass
class Scan:
    first: int = 1
    records: int = 0
    last_seq: int = 0
    head: bytes = ZERO_HASH
    last_hash: bytes = b""  # hex, as read
    first_row: Row | None = None
    gaps: list[tuple[int, int]] = field(default_factory=list)  # (first missing, next present)
    suspects: dict[int, Row] = field(default_factory=dict)
    breaks: list[int] = field(default_factory=list)  # seqs whose prev_hash is not the link
    at_sizes: dict[int, bytes] = field(default_factory=dict)  # stored hex hash at those sizes


def scan_chain(rows: Iterable[Row], sizes: set[int], first: int = 1,
               prev_hash: bytes = ZERO_HEX) -> Scan:
    """The one pass; the hot loop of verification (bench/bench_audit.py).

    A slice of the chain starting at `first` is scanned with `prev_hash` = UNKNOWN;
    `merge` then checks the link across the cut.
    """
    scan = Scan(first=first)
    sha256 = hashlib.sha256
    expected, last_hash, count = first, prev_hash, 0
    suspects, breaks, at_sizes = scan.suspects, scan.breaks, scan.at_sizes
    for row in rows:
        seq, canonical, details, digest, prev, current = row
        if seq != expected:
            scan.gaps.append((expected, seq))
        elif prev != last_hash:
            breaks.append(seq)
        try:
            node = sha256(NODE_PREFIX + unhexlify(prev) + sha256(LEAF_PREFIX + canonical)
                          .digest()).digest()
            intact = (node == unhexlify(current) and sha256(details).hexdigest()
                      == digest.decode() and canonical.count(b"\x1f") == SEPARATORS)
        except (ValueError, TypeError):  # not hex, or a value of the wrong type
            intact = False
        if not intact:
            if len(suspects) < MAX_SUSPECTS:
                suspects[seq] = row
            else:
                suspects.setdefault(-1, row)
        if seq in sizes:
            at_sizes[seq] = current
        if not count:
            scan.first_row = row
        last_hash, expected, count = current, seq + 1, count + 1
    scan.records, scan.last_seq, scan.last_hash = count, expected - 1, last_hash
    scan.head = unhex(last_hash)
    return scan


def merge(slices: list[Scan]) -> Scan:
    """One scan from consecutive slices; gaps and links across a cut are settled here."""
    whole = Scan()
    last_hash, expected = ZERO_HEX, 1
    for part in slices:
        if part.first_row is None:
            continue  # every record of this slice is missing: the next one shows the gap
        first_seq = part.first_row[0]
        if part.gaps and part.gaps[0][0] == part.first:
            part.gaps.pop(0)
        linked = first_seq != expected or part.first_row[4] == last_hash
        if part.breaks and part.breaks[0] == part.first and linked:
            part.breaks.pop(0)  # the link into the slice holds (or a gap explains it)
        if first_seq != expected:
            whole.gaps.append((expected, first_seq))
        whole.gaps += part.gaps
        whole.breaks += part.breaks
        whole.at_sizes.update(part.at_sizes)
        for seq, row in part.suspects.items():
            if len(whole.suspects) < MAX_SUSPECTS:
                whole.suspects[seq] = row
        whole.records += part.records
        whole.last_seq, whole.head, last_hash = part.last_seq, part.head, part.last_hash
        expected = part.last_seq + 1
    return whole


def scan_parallel(conn: Connection, sizes: set[int], jobs: int) -> Scan:
    last = head(conn)[0]
    url = conn.engine.url.render_as_string(hide_password=False)
    step = max(1, -(-last // jobs))
    cuts = [(first, min(first + step - 1, last)) for first in range(1, last + 1, step)]
    context = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    with context.Pool(len(cuts) or 1) as pool:
        slices = pool.starmap(_scan_slice, [(url, a, b, sizes) for a, b in cuts])
    return merge(slices)


def _scan_slice(url: str, first: int, last: int, sizes: set[int]) -> Scan:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return scan_chain(read_chain(conn, first, last), sizes, first,
                              ZERO_HEX if first == 1 else UNKNOWN)
    finally:
        engine.dispose()


def unhex(value: bytes) -> bytes:
    try:
        return unhexlify(value)
    except (ValueError, TypeError):
        return b""
