"""The verifier: recompute the chain, check every checkpoint, name the first bad place.

One pass over the records (scan.py) checks each record's own hash, its link to the
previous one and the sequence. Afterwards the few records that failed are examined
for a swap (two records that each verify at the other's position), and every
checkpoint, from the database
and from the checkpoint directory, is checked: its signature; that the chain still
reaches its size (else the tail was truncated); that the record at its size has its
head (else the tail was rewritten, hashes and all); and that no two checkpoints of
one size disagree (a fork).

Checkpoints are read before the records, so one made during the pass cannot look
like a truncation.
"""

from __future__ import annotations

import hashlib
import time
from binascii import unhexlify
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection

from backend.audit import checkpoints as cp
from backend.audit.chain import LEAF_PREFIX, NODE_PREFIX, ZERO_HASH
from backend.audit.rows import Row, read_chain
from backend.audit.scan import Scan, scan_chain, scan_parallel, unhex
from backend.audit.sequencer import stale_queue

KINDS = ("edited", "deleted", "swapped", "truncated", "rewritten", "fork", "bad_checkpoint",
         "unchained")
STALE_QUEUE_SECONDS = 300  # the beat settles the queue every minute
MAX_SWAP_ANALYSIS = 200  # pairing failures costs n^2 hashes; a mass edit is just "edited"


@dataclass(frozen=True)
class Finding:
    kind: str  # one of KINDS
    position: int  # the first bad sequence number (a checkpoint's size for forks)
    detail: str
    count: int = 1  # how many places showed this kind

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "position": self.position, "count": self.count,
                "detail": self.detail}


@dataclass
class Report:
    records: int = 0
    last_seq: int = 0
    head: bytes = ZERO_HASH
    checkpoints: int = 0
    seconds: float = 0.0
    findings: list[Finding] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.findings

    def first(self, kind: str) -> Finding | None:
        return next((f for f in self.findings if f.kind == kind), None)

    def to_dict(self) -> dict[str, Any]:
        return {"intact": self.intact, "records": self.records, "last_seq": self.last_seq,
                "head": self.head.hex(), "checkpoints_checked": self.checkpoints,
                "seconds": round(self.seconds, 3),
                "findings": [f.to_dict() for f in self.findings]}


Keys = Mapping[str, Ed25519PublicKey]  # key id: public key


def verify(conn: Connection, checkpoint_dir: Path | None,
           public_key: Ed25519PublicKey | Keys | None, jobs: int = 1) -> Report:
    """Verify the whole log as `conn` sees it; `jobs` > 1 scans slices in parallel
    processes on connections of their own (so only committed records count).

    `public_key`: one key, or the keyring's keys by id (a checkpoint in the table is
    checked with the key whose id it records)."""
    keys = _by_id(public_key)
    started = time.perf_counter()
    marks = list(cp.from_directory(checkpoint_dir)) if checkpoint_dir else []
    marks += list(cp.from_table(conn))
    sizes = {m.size for m in marks}
    parallel = jobs > 1
    scan = scan_parallel(conn, sizes, jobs) if parallel else scan_chain(read_chain(conn), sizes)
    findings = _chain_findings(scan) + _checkpoint_findings(scan, marks, keys)
    findings += _unchained(conn, scan.last_seq)
    return Report(records=scan.records, last_seq=scan.last_seq, head=scan.head,
                  checkpoints=len(marks), seconds=time.perf_counter() - started,
                  findings=sorted(findings, key=lambda f: (KINDS.index(f.kind), f.position)))


def verify_app(conn: Connection, config: Mapping[str, Any],
               public_key_pem: bytes | None = None, jobs: int = 1) -> Report:
    """Verify with the hub's configured checkpoint directory and keyring."""
    return verify(conn, Path(config["AUDIT_CHECKPOINT_DIR"]),
                  public_keys_for(config, public_key_pem), jobs)


def public_keys_for(config: Mapping[str, Any], pem: bytes | None = None) -> Keys:
    """The given key alone; else every key of the checkpoint keyring, current and
    retired (none before the first checkpoint made the key)."""
    if pem is not None:
        public = cp.load_public(pem)
        return {cp.key_id(public): public}
    return cp.keyring(config, create=False).publics()


def _by_id(public_key: Ed25519PublicKey | Keys | None) -> Keys:
    if public_key is None:
        return {}
    if isinstance(public_key, Ed25519PublicKey):
        return {cp.key_id(public_key): public_key}
    return public_key


def _chain_findings(scan: Scan) -> list[Finding]:
    findings: list[Finding] = []
    if scan.gaps:
        first, upto = scan.gaps[0]
        findings.append(Finding("deleted", first, f"records {first}..{upto - 1} are missing",
                                len(scan.gaps)))
    swapped = _swaps(scan.suspects)
    if swapped:
        p, q = swapped[0]
        findings.append(Finding("swapped", p, f"records {p} and {q} are in each other's place",
                                len(swapped)))
    in_swap = {seq for pair in swapped for seq in pair}
    edited = sorted(seq for seq in scan.suspects if seq not in in_swap and seq > 0)
    gap_next = {upto for _first, upto in scan.gaps}
    explained = in_swap | set(scan.suspects)
    for seq in scan.breaks:
        if not ({seq, seq - 1} & explained or seq in gap_next):
            edited.append(seq - 1)  # its hash was recomputed: the next no longer links
    if edited:
        edited.sort()
        findings.append(Finding("edited", edited[0],
                                f"record {edited[0]} does not match its hash", len(edited)))
    return findings


def _swaps(suspects: dict[int, Row]) -> list[tuple[int, int]]:
    """Pairs of failing records that each verify at the other's position."""
    seqs = sorted(s for s in suspects if s > 0)
    if len(seqs) > MAX_SWAP_ANALYSIS:
        return []
    fits = {s: {t for t in seqs if t != s and _verifies_at(suspects[s], t)} for s in seqs}
    pairs = []
    for s in seqs:
        for t in fits[s]:
            if s < t and s in fits[t]:
                pairs.append((s, t))
    return pairs


def _verifies_at(row: Row, position: int) -> bool:
    _seq, canonical, details, digest, prev, current = row
    _old, sep, rest = canonical.partition(b"\x1f")
    moved = str(position).encode() + sep + rest
    try:
        node = hashlib.sha256(NODE_PREFIX + unhexlify(prev)
                              + hashlib.sha256(LEAF_PREFIX + moved).digest()).digest()
        return node == unhexlify(current) and hashlib.sha256(details).hexdigest() == \
            digest.decode()
    except (ValueError, TypeError):
        return False


def _checkpoint_findings(scan: Scan, marks: list[cp.Checkpoint],
                         keys: Keys) -> list[Finding]:
    bad: list[tuple[int, str]] = []
    heads: dict[int, set[bytes]] = {}
    for mark in marks:
        problem = _signature_problem(mark, keys)
        if problem is not None:
            bad.append((max(mark.size, 0), f"{mark.source}: {problem}"))
        else:
            heads.setdefault(mark.size, set()).add(mark.head)
    findings = []
    if bad:
        bad.sort()
        findings.append(Finding("bad_checkpoint", bad[0][0], bad[0][1], len(bad)))
    forks = sorted(size for size, found in heads.items() if len(found) > 1)
    if forks:
        findings.append(Finding("fork", forks[0], f"{len(heads[forks[0]])} different heads "
                                f"signed for size {forks[0]}", len(forks)))
    findings += _against_chain(scan, heads)
    return findings


def _signature_problem(mark: cp.Checkpoint, keys: Keys) -> str | None:
    """Why `mark` is not a checkpoint signed by one of `keys`, or None if it is.

    A table copy names its key and is checked with that key only; a file names none,
    and any key of the ring that verifies it vouches for it.
    """
    if mark.size < 0:
        return "not a checkpoint"
    if not keys:
        return "no public key to check it with"
    if mark.key_id is not None:
        public = keys.get(mark.key_id)
        if public is None:
            return f"signed with key {mark.key_id}, which is not a known checkpoint key"
        candidates = [public]
    else:
        candidates = list(keys.values())
    if not any(cp.signature_valid(public, mark) for public in candidates):
        return "the signature does not verify"
    return None


def _against_chain(scan: Scan, heads: dict[int, set[bytes]]) -> list[Finding]:
    findings = []
    beyond = sorted(size for size in heads if size > scan.last_seq)
    if beyond:
        findings.append(Finding("truncated", scan.last_seq + 1,
                                f"a checkpoint vouches for {beyond[-1]} records, the chain "
                                f"ends at {scan.last_seq}", len(beyond)))
    matching: list[int] = [0]
    mismatching: list[int] = []
    for size in sorted(s for s in heads if 0 < s <= scan.last_seq):
        stored = scan.at_sizes.get(size)
        if stored is None:
            continue  # that record is missing: reported as deleted
        agrees = heads[size] == {unhex(stored)}  # in a fork, one side always disagrees
        (matching if agrees else mismatching).append(size)
    if mismatching:
        upto = mismatching[0]
        start = max(s for s in matching if s < upto) + 1
        findings.append(Finding("rewritten", start,
                                f"the checkpoint at {upto} signed another head: records "
                                f"{start}..{upto} were rewritten", len(mismatching)))
    return findings


def _unchained(conn: Connection, last_seq: int) -> list[Finding]:
    """Records committed into the queue long ago and still not chained: the sequencer
    is failing (its warnings are in PostgreSQL's log), and those records are not yet
    protected by the chain."""
    count, oldest = stale_queue(conn, STALE_QUEUE_SECONDS)
    if not count:
        return []
    return [Finding("unchained", last_seq + 1,
                    f"{count} queued records not chained after {STALE_QUEUE_SECONDS} s "
                    f"(oldest queued at {oldest:%Y-%m-%d %H:%M:%S} UTC)", count)]
