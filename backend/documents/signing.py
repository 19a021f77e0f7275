"""The city's document signature: Ed25519 over what identifies a document's content.

The signed message binds the public id, the kind and the SHA-256 of the canonical
content, domain-separated so no other SatuKartu signature (audit checkpoints, card
tokens) can be passed off as a document's. The key comes from
SATUKARTU_DOCUMENT_SIGNING_KEY and is generated (mode 0600) on first use if missing.
Anyone can check a signature offline with the public key the hub publishes at
`/api/v1/documents/signing-key`.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

DOMAIN = b"SatuKartu document signature v1\n"
_lock = threading.Lock()
_keys: dict[str, SigningKey] = {}


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def key_id(self) -> str:
        """First 16 hex digits of SHA-256 of the raw public key: names it on documents."""
        raw = self.public.public_bytes(serialization.Encoding.Raw,
                                       serialization.PublicFormat.Raw)
        return hashlib.sha256(raw).hexdigest()[:16]

    def public_pem(self) -> bytes:
        return self.public.public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)


def message(public_id: str, kind: str, content_sha256: str) -> bytes:
    """The exact bytes signed for a document (documented for offline verifiers)."""
    return DOMAIN + f"{public_id}\n{kind}\n{content_sha256}".encode("ascii")


def load_key(path: str) -> SigningKey:
    """The key at `path`, created on first use; cached per path for the process."""
    with _lock:
        key = _keys.get(path)
        if key is None:
            key = SigningKey(_read_or_create(Path(path)))
            _keys[path] = key
        return key


def _read_or_create(path: Path) -> Ed25519PrivateKey:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: read theirs
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 private key")
    return key


def sign(key: SigningKey, public_id: str, kind: str, content_sha256: str) -> str:
    """The signature, base64url without padding (86 characters)."""
    raw = key.private.sign(message(public_id, kind, content_sha256))
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def verify(key: SigningKey, public_id: str, kind: str, content_sha256: str,
           signature: str) -> bool:
    try:
        raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
        key.public.verify(raw, message(public_id, kind, content_sha256))
    except (InvalidSignature, ValueError):
        return False
    return True
