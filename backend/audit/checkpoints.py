"""Signed checkpoints: (size, head hash, time), signed with Ed25519, kept twice.

A checkpoint is a short text whose exact bytes are signed; it is written to the
`audit_checkpoints` table and, with its raw 64-byte signature, as two files in
SATUKARTU_AUDIT_CHECKPOINT_DIR, a place the database's users cannot rewrite:

    checkpoint-000000001000-20261126T160000123456Z.txt   the signed text
    checkpoint-000000001000-20261126T160000123456Z.sig   Ed25519 signature of it

Anyone with the public key checks one with OpenSSL (README.md):

    openssl pkeyutl -verify -pubin -inkey audit-signing.pub.pem -rawin \
        -in checkpoint-....txt -sigfile checkpoint-....sig

The key is the current one of a keyring (backend.keys.ring): the table records the id
of the key that signed each checkpoint, so checkpoints signed before a rotation still
verify. The directory holds `audit-signing.pub.pem` (the current key) and
`audit-signing-<key id>.pub.pem` for every key that signed a checkpoint there.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from sqlalchemy import Connection, insert, select, text
from sqlalchemy.orm import Session

from backend.audit.append import head, lock_chain
from backend.audit.models import AuditCheckpoint
from backend.audit.sequencer import settle
from backend.db import Database
from backend.keys import purposes as keys
from backend.keys import ring
from backend.keys.ring import Keyring, KeyringError

TITLE = "SatuKartu audit checkpoint v1"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
PUBLIC_KEY_FILE = "audit-signing.pub.pem"
KEY_FILE_BY_ID = "audit-signing-{key_id}.pub.pem"
CHECKPOINT_LOCK_KEY = 0x5341545543484B50  # "SATUCHKP": one checkpoint writer at a time
_TABLE = AuditCheckpoint.__table__


@dataclass(frozen=True)
class Checkpoint:
    size: int
    head: bytes
    at: datetime
    body: str
    signature: bytes
    source: str  # "table" or the file's path
    key_id: str | None = None  # the signing key's; files do not record it

    @property
    def name(self) -> str:
        return f"checkpoint-{self.size:012d}-{self.at.strftime('%Y%m%dT%H%M%S%fZ')}"


def render_body(size: int, head_hash: bytes, at: datetime) -> str:
    """The signed text: four lines, each ending in a newline."""
    return f"{TITLE}\nsize {size}\nhead {head_hash.hex()}\ntime {at.strftime(TIME_FORMAT)}\n"


def parse_body(body: str) -> tuple[int, bytes, datetime]:
    """(size, head, time) of a checkpoint text; ValueError if it is not one."""
    lines = body.split("\n")
    if len(lines) != 5 or lines[0] != TITLE or lines[4] != "":
        raise ValueError("not a checkpoint")
    fields = {}
    for line, name in zip(lines[1:4], ("size", "head", "time"), strict=True):
        key, _, value = line.partition(" ")
        if key != name:
            raise ValueError(f"expected {name!r}")
        fields[name] = value
    size = int(fields["size"])
    head_hash = bytes.fromhex(fields["head"])
    if size < 0 or len(head_hash) != 32:
        raise ValueError("bad size or head")
    at = datetime.strptime(fields["time"], TIME_FORMAT).replace(tzinfo=UTC)
    return size, head_hash, at


# --- the key ---------------------------------------------------------------------

def signing_key(config: Mapping[str, Any]) -> Ed25519PrivateKey:
    """The current key: PEM text, or a PEM file made on first use (mode 0600)."""
    try:
        key = keys.store(config, "checkpoints").private(create=True)
    except KeyringError as exc:
        raise ValueError(f"SATUKARTU_AUDIT_SIGNING_KEY: {exc}") from exc
    assert key is not None
    return key


def keyring(config: Mapping[str, Any], create: bool = True) -> Keyring:
    """Every checkpoint key, current and retired, by id."""
    return keys.keyring(config, "checkpoints", create)


def public_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    return ring.public_pem(key)


def load_public(pem: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def key_id(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    return ring.key_id(key)


def signature_valid(public: Ed25519PublicKey, checkpoint: Checkpoint) -> bool:
    try:
        public.verify(checkpoint.signature, checkpoint.body.encode("utf-8"))
    except InvalidSignature:
        return False
    return True


# --- making one ------------------------------------------------------------------

def make_checkpoint(db: Database, config: Mapping[str, Any], *, force: bool = False,
                    within: Session | None = None) -> Checkpoint | None:
    """Sign the current head unless the last checkpoint already covers it (or `force`).

    Signed in a transaction of its own, committed here; or in `within`'s, which its
    caller commits. The API signs on SQLite in the request's transaction: that holds
    the single write lock from its first statement (backend.db), so a transaction of
    the checkpoint's own would wait for the request that waits for it.
    """
    key = signing_key(config)
    directory = Path(config["AUDIT_CHECKPOINT_DIR"])
    settle(db.engine)  # sign what committed before this call, queued records included
    if within is not None:
        return _sign_head(within.connection(), key, directory, force)
    with db.transaction() as sess:
        return _sign_head(sess.connection(), key, directory, force)


def _sign_head(conn: Connection, key: Ed25519PrivateKey, directory: Path,
               force: bool) -> Checkpoint | None:
    """One checkpoint writer at a time: PostgreSQL's advisory lock, SQLite's write lock
    (taken before the head is read, so the insert cannot be refused for a stale read)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHECKPOINT_LOCK_KEY})
    elif conn.dialect.name == "sqlite":
        lock_chain(conn)
    size, head_hash, _at = head(conn)
    if not force and size <= last_size(conn):
        return None
    checkpoint = sign(key, size, head_hash)
    write_files(directory, checkpoint, key)
    conn.execute(insert(_TABLE).values(size=size, head=head_hash, at=checkpoint.at,
                                       key_id=checkpoint.key_id, body=checkpoint.body,
                                       signature=checkpoint.signature))
    return checkpoint


def sign(key: Ed25519PrivateKey, size: int, head_hash: bytes,
         at: datetime | None = None) -> Checkpoint:
    at = at or datetime.now(UTC)
    body = render_body(size, head_hash, at)
    return Checkpoint(size, head_hash, at, body, key.sign(body.encode("utf-8")), "new",
                      key_id(key))


def last_size(conn: Connection) -> int:
    size = conn.execute(select(_TABLE.c.size).order_by(_TABLE.c.size.desc()).limit(1)).scalar()
    return int(size or 0)


def write_files(directory: Path, checkpoint: Checkpoint,
                key: Ed25519PrivateKey | None = None) -> Path:
    """Write the text and signature (each atomically); returns the text's path.

    With `key`, its public half is there too, under its id (for checkpoints it signed
    after it is retired) and as PUBLIC_KEY_FILE while it is the one signing.
    """
    directory.mkdir(parents=True, exist_ok=True)
    if key is not None:
        pem = public_pem(key)
        by_id = directory / KEY_FILE_BY_ID.format(key_id=key_id(key))
        if not by_id.exists():
            _write_atomic(by_id, pem)
        current = directory / PUBLIC_KEY_FILE
        if not current.exists() or current.read_bytes() != pem:
            _write_atomic(current, pem)
    text_path = directory / f"{checkpoint.name}.txt"
    _write_atomic(directory / f"{checkpoint.name}.sig", checkpoint.signature)
    _write_atomic(text_path, checkpoint.body.encode("utf-8"))
    return text_path


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


# --- reading them back -----------------------------------------------------------

def from_table(conn: Connection) -> Iterator[Checkpoint]:
    rows = conn.execute(select(_TABLE.c.body, _TABLE.c.signature, _TABLE.c.id,
                               _TABLE.c.key_id).order_by(_TABLE.c.size, _TABLE.c.id))
    for body, signature, row_id, signer in rows:
        yield _parsed(body, bytes(signature), f"table#{row_id}", signer)


def from_directory(directory: Path) -> Iterator[Checkpoint]:
    if not directory.is_dir():
        return
    for text_path in sorted(directory.glob("checkpoint-*.txt")):
        sig_path = text_path.with_suffix(".sig")
        signature = sig_path.read_bytes() if sig_path.exists() else b""
        yield _parsed(text_path.read_text("utf-8"), signature, str(text_path))


def _parsed(body: str, signature: bytes, source: str,
            signer: str | None = None) -> Checkpoint:
    try:
        size, head_hash, at = parse_body(body)
    except ValueError:
        size, head_hash, at = -1, b"", datetime.min.replace(tzinfo=UTC)
    return Checkpoint(size, head_hash, at, body, signature, source, signer)


def covering(conn: Connection, seq: int) -> Checkpoint | None:
    """The first checkpoint in the table whose size reaches `seq`."""
    row = conn.execute(select(_TABLE.c.body, _TABLE.c.signature, _TABLE.c.id,
                              _TABLE.c.key_id)
                       .where(_TABLE.c.size >= seq).order_by(_TABLE.c.size, _TABLE.c.id)
                       .limit(1)).first()
    return _parsed(row.body, bytes(row.signature), f"table#{row.id}", row.key_id) \
        if row else None
