"""A keyring on disk: one current Ed25519 private key, and the public keys of every key
it has held, so a signature outlives the key's retirement.

Beside the configured key file (SATUKARTU_DOCUMENT_SIGNING_KEY, SATUKARTU_AUDIT_SIGNING_KEY):

    document-signing.key            the current private key (PKCS#8 PEM, mode 0600)
    document-signing.keyring.json   every key it has held: id, public key (PEM), when it
                                    became current and when it was retired

Why this shape:

- The configured file keeps meaning "the key that signs", so a hub set up before
  keyrings existed keeps working unchanged; its first rotation writes the keyring file.
- A retired key keeps only its public half. Verifying is all a retired key is for, and
  a private key that is no longer kept can neither leak nor sign again.
- Which key is current is whatever the private key file holds, not a line in the
  keyring file, so the two can never disagree about who signs.
- Rotating lists the new key's public half in the keyring before the new private key
  atomically replaces the old (`os.replace`). Whatever moment a crash strikes, every
  signature already made still verifies; at worst a key that never signed is listed.
- Nothing is in the database: the keys that vouch for its rows live outside it.

A key id is the first 16 hex digits of the SHA-256 of the raw 32-byte public key:
anyone holding the public key can recompute it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

FORMAT = 1


class KeyringError(ValueError):
    """The keyring cannot be read or changed; the message says why, in one line."""


@dataclass(frozen=True)
class RingKey:
    key_id: str
    public: Ed25519PublicKey
    created: datetime | None  # None: made before keyrings recorded it, date unknown
    retired: datetime | None
    current: bool

    @property
    def status(self) -> str:
        return "current" if self.current else "retired"

    def public_pem(self) -> bytes:
        return public_pem(self.public)


@dataclass(frozen=True)
class Keyring:
    keys: tuple[RingKey, ...]  # oldest first

    @property
    def current(self) -> RingKey | None:
        return next((k for k in self.keys if k.current), None)

    def get(self, key_id: str) -> RingKey | None:
        return next((k for k in self.keys if k.key_id == key_id), None)

    def publics(self) -> dict[str, Ed25519PublicKey]:
        return {k.key_id: k.public for k in self.keys}


# --- keys ------------------------------------------------------------------------

def key_id(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.PEM,
                               serialization.PublicFormat.SubjectPublicKeyInfo)


def is_pem(value: str) -> bool:
    """A setting that holds the key itself rather than a path to it."""
    return value.lstrip().startswith("-----BEGIN")


def private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def load_private_pem(pem: bytes, what: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyringError(f"{what}: not a readable PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyringError(f"{what}: not an Ed25519 private key")
    return key


def read_or_create(path: Path) -> Ed25519PrivateKey:
    """The private key at `path`, made (mode 0600) if there is none yet."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: use theirs
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(private_pem(Ed25519PrivateKey.generate()))
    return load_private_pem(path.read_bytes(), str(path))


# --- the keyring -----------------------------------------------------------------

@dataclass(frozen=True)
class Store:
    """Where one keyring lives: the configured key (a path, or the PEM itself) and the
    keyring file listing every key it has held."""

    key: str
    ring_file: Path

    @property
    def key_path(self) -> Path | None:
        return None if is_pem(self.key) else Path(self.key)

    def private(self, create: bool = True) -> Ed25519PrivateKey | None:
        """The current private key; made on first use when `create`, else None if absent."""
        path = self.key_path
        if path is None:
            return load_private_pem(self.key.encode(), "the configured key")
        if not create and not path.exists():
            return None
        return read_or_create(path)

    def load(self, create: bool = True) -> Keyring:
        """Every key: those the keyring file lists, and the current one (listed or not)."""
        private = self.private(create)
        current_id = key_id(private) if private is not None else None
        keys = [replace(k, current=k.key_id == current_id,
                        retired=None if k.key_id == current_id else k.retired)
                for k in _read_ring(self.ring_file)]
        if private is not None and not any(k.current for k in keys):
            keys.append(RingKey(key_id(private), private.public_key(), self._made_at(),
                                None, True))
        return Keyring(tuple(keys))

    def rotate(self, now: datetime | None = None) -> tuple[RingKey, RingKey]:
        """Retire the current key and make a new one current; returns (retired, new)."""
        path = self.key_path
        if path is None:
            raise KeyringError("the key is configured as PEM text, not as a file: put it in "
                               "a file and configure its path to rotate it")
        with _locked(self.ring_file):
            ring = self.load(create=True)
            old = ring.current
            assert old is not None
            now = now or datetime.now(UTC)
            new_key = Ed25519PrivateKey.generate()
            new = RingKey(key_id(new_key), new_key.public_key(), now, None, True)
            retired = replace(old, current=False, retired=now)
            listed = [k for k in ring.keys if not k.current] + [retired, new]
            _write_atomic(self.ring_file, _ring_json(listed), 0o644)
            _write_atomic(path, private_pem(new_key), 0o600)
        return retired, new

    def _made_at(self) -> datetime | None:
        path = self.key_path
        if path is None or not path.exists():
            return None
        return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def _read_ring(path: Path) -> list[RingKey]:
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text("utf-8"))
        entries = data["keys"]
        keys = [_entry(entry) for entry in entries]
    except (ValueError, KeyError, TypeError) as exc:
        raise KeyringError(f"{path}: not a readable keyring ({exc})") from exc
    return keys


def _entry(entry: dict[str, Any]) -> RingKey:
    public = serialization.load_pem_public_key(entry["public_key_pem"].encode("ascii"))
    if not isinstance(public, Ed25519PublicKey):
        raise ValueError(f"key {entry['key_id']} is not Ed25519")
    if key_id(public) != entry["key_id"]:
        raise ValueError(f"key id {entry['key_id']} does not match its public key")
    return RingKey(entry["key_id"], public, _time(entry.get("created")),
                   _time(entry.get("retired")), False)


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _ring_json(keys: list[RingKey]) -> bytes:
    entries = [{"key_id": k.key_id, "public_key_pem": k.public_pem().decode("ascii"),
                "created": k.created.isoformat() if k.created else None,
                "retired": k.retired.isoformat() if k.retired else None} for k in keys]
    return (json.dumps({"format": FORMAT, "keys": entries}, indent=2) + "\n").encode()


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Written in full and synced before it replaces `path`: never half a key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


@contextmanager
def _locked(ring_file: Path) -> Iterator[None]:
    """One rotation at a time, across processes."""
    ring_file.parent.mkdir(parents=True, exist_ok=True)
    lock = ring_file.with_name(ring_file.name + ".lock")
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
