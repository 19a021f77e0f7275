"""The city's document signature: Ed25519 over what identifies a document's content.

The signed message binds the public id, the kind and the SHA-256 of the canonical
content, domain-separated so no other SatuKartu signature (audit checkpoints, card
tokens) can be passed off as a document's. The key comes from
SATUKARTU_DOCUMENT_SIGNING_KEY and is generated (mode 0600) on first use if missing;
it is the current key of a keyring (backend.keys.ring), and each document records the
id of the key that signed it, so a document signed before a rotation still verifies.
Anyone can check a signature offline with the public keys the hub publishes at
`/api/v1/documents/signing-key`.
"""

from __future__ import annotations

import base64
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from backend.keys import ring

DOMAIN = b"SatuKartu document signature v1\n"
_lock = threading.Lock()
# path: (the file's identity when read, the key). A rotation replaces the file, so a
# process notices at its next signature and signs with the new key without a restart.
_keys: dict[str, tuple[tuple[int, int], SigningKey]] = {}


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def key_id(self) -> str:
        """First 16 hex digits of SHA-256 of the raw public key: names it on documents."""
        return ring.key_id(self.public)

    def public_pem(self) -> bytes:
        return ring.public_pem(self.public)


def message(public_id: str, kind: str, content_sha256: str) -> bytes:
    """The exact bytes signed for a document (documented for offline verifiers)."""
    return DOMAIN + f"{public_id}\n{kind}\n{content_sha256}".encode("ascii")


def load_key(path: str) -> SigningKey:
    """The key at `path`, created on first use; cached until the file is replaced."""
    with _lock:
        identity = _identity(path)  # before reading: a replacement then shows next time
        cached = _keys.get(path)
        if cached is not None and cached[0] == identity:
            return cached[1]
        key = SigningKey(_read_or_create(Path(path)))
        _keys[path] = (identity, key)
        return key


def _identity(path: str) -> tuple[int, int]:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return (-1, -1)  # never matches: the key made next is read afresh
    return (stat.st_ino, stat.st_mtime_ns)


def _read_or_create(path: Path) -> Ed25519PrivateKey:
    return ring.read_or_create(path)


def sign(key: SigningKey, public_id: str, kind: str, content_sha256: str) -> str:
    """The signature, base64url without padding (86 characters)."""
    raw = key.private.sign(message(public_id, kind, content_sha256))
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def verify(key: SigningKey | Ed25519PublicKey, public_id: str, kind: str,
           content_sha256: str, signature: str) -> bool:
    public = key.public if isinstance(key, SigningKey) else key
    try:
        raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
        public.verify(raw, message(public_id, kind, content_sha256))
    except (InvalidSignature, ValueError):
        return False
    return True
