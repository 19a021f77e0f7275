"""Challenge nonces that carry their own proof: issued without a database write.

A nonce is 64 bytes:

    random (32) | expiry, Unix seconds (4) | known-tag (12) | terminal-tag (16)

known-tag = HMAC(key, "known" | random | expiry) says the hub issued it (else
`nonce_unknown`); terminal-tag = HMAC(key, "terminal" | random | expiry | terminal id)
binds it to one terminal (else `nonce_other_terminal`). The key is derived from the
hub's SECRET_KEY, so every worker of one hub issues and checks the same nonces.

Single use is the database's job, once, when the token arrives: the spent nonce's hash
goes into `card_challenges` (unique), with its terminal and expiry. So a challenge
costs no write at all and an authentication exactly one nonce write, where a table of
issued challenges would cost an insert and a commit per challenge as well.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

RANDOM_BYTES = 32  # 256 bits of the nonce are random
NONCE_BYTES = 64
_EXPIRY = slice(32, 36)
_KNOWN = slice(36, 48)
_TERMINAL = slice(48, 64)


def derive_key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), b"satukartu card challenge v1",
                    hashlib.sha256).digest()


def _tag(key: bytes, label: bytes, *parts: bytes) -> bytes:
    return hmac.new(key, label + b"|" + b"|".join(parts), hashlib.sha256).digest()


def make(key: bytes, terminal_id: str, expires_at: dt.datetime) -> bytes:
    """A nonce for `terminal_id`, valid until `expires_at` (whole seconds)."""
    body = secrets.token_bytes(RANDOM_BYTES) + int(expires_at.timestamp()).to_bytes(4, "big")
    return (body + _tag(key, b"known", body)[:12]
            + _tag(key, b"terminal", body, terminal_id.encode())[:16])


@dataclass(frozen=True)
class Verdict:
    known: bool
    expires_at: dt.datetime | None
    for_terminal: bool


def read(key: bytes, nonce: bytes, terminal_id: str) -> Verdict:
    """What the nonce proves about itself (nothing about whether it was used)."""
    if len(nonce) != NONCE_BYTES:
        return Verdict(False, None, False)
    body = nonce[:_EXPIRY.stop]
    if not hmac.compare_digest(nonce[_KNOWN], _tag(key, b"known", body)[:12]):
        return Verdict(False, None, False)
    expires = dt.datetime.fromtimestamp(int.from_bytes(nonce[_EXPIRY], "big"), dt.UTC)
    bound = hmac.compare_digest(nonce[_TERMINAL],
                                _tag(key, b"terminal", body, terminal_id.encode())[:16])
    return Verdict(True, expires, bound)
