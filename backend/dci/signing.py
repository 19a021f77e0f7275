"""Ed25519 signatures of SPDCI messages, in the document's `Signature:` form.

The document fixes the signature's wire form (MsgSignature's example) and leaves its
canonical form open; we take OpenSPP's choice, so our peers verify what we sign:

    Signature: namespace="spdci", kidId="{sender_id}|{key_id}|ed25519",
      algorithm="ed25519", created="{unix}", expires="{unix}",
      headers="(created) (expires) digest", signature="{base64}"

- digest: SHA-256 of the compact JSON of `{"header": ..., "message": ...}` with sorted
  keys (UTF-8, no spaces), base64;
- what is signed: the three lines `(created): {created}`, `(expires): {expires}`,
  `digest: SHA-256={digest}`, joined by newlines (the `headers` list, in order).

Signing needs only a private key; verifying asks a function for the public key of a
(sender_id, key_id), so the caller decides where keys come from (our keyring, a peer's
registered JWKS). No Flask, no database: the future client signs with the same code.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

NAMESPACE = "spdci"
ALGORITHM = "ed25519"
HEADERS = "(created) (expires) digest"
PREFIX = "Signature:"
LIFETIME = 3600  # seconds a signature stays valid
CLOCK_SKEW = 300  # seconds a peer's clock may run ahead of ours
MAX_CHARS = 2048
_PARAM = re.compile(r'\s*([A-Za-z]+)="([^"]*)"\s*(?:,|$)')

KeyLookup = Callable[[str, str], Ed25519PublicKey | None]


class SignatureError(ValueError):
    """The signature is absent, unreadable, expired or does not match."""

    def __init__(self, message: str, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing


@dataclass(frozen=True)
class Signed:
    """A signature's parameters, as read from its string."""

    sender_id: str
    key_id: str
    created: int
    expires: int
    signature: bytes


def kid(sender_id: str, key_id: str) -> str:
    return f"{sender_id}|{key_id}|{ALGORITHM}"


def canonical(header: Any, message: Any) -> bytes:
    return json.dumps({"header": header, "message": message}, sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def digest(header: Any, message: Any) -> str:
    return base64.b64encode(hashlib.sha256(canonical(header, message)).digest()).decode()


def signing_string(created: int, expires: int, digest_b64: str) -> bytes:
    return (f"(created): {created}\n(expires): {expires}\n"
            f"digest: SHA-256={digest_b64}").encode("ascii")


def sign(key: Ed25519PrivateKey, *, sender_id: str, key_id: str, header: Any, message: Any,
         now: float | None = None, lifetime: int = LIFETIME) -> str:
    """The `signature` field for an envelope of `header` and `message`."""
    created = int(time.time() if now is None else now)
    expires = created + lifetime
    raw = key.sign(signing_string(created, expires, digest(header, message)))
    value = base64.b64encode(raw).decode("ascii")
    return (f'{PREFIX} namespace="{NAMESPACE}", kidId="{kid(sender_id, key_id)}", '
            f'algorithm="{ALGORITHM}", created="{created}", expires="{expires}", '
            f'headers="{HEADERS}", signature="{value}"')


def read(value: Any) -> Signed:
    """The parameters of a signature string; SignatureError if it is not one."""
    if not isinstance(value, str) or not value.strip():
        raise SignatureError("the envelope is not signed", missing=True)
    text = value.strip()
    if len(text) > MAX_CHARS:
        raise SignatureError("the signature is too long")
    if text.startswith(PREFIX):
        text = text[len(PREFIX):]
    params: dict[str, str] = {}
    position = 0
    while position < len(text):
        match = _PARAM.match(text, position)
        if match is None or match.end() == position:
            raise SignatureError("the signature is not a list of name=\"value\" parameters")
        params[match.group(1)] = match.group(2)
        position = match.end()
    if params.get("algorithm", ALGORITHM).lower() != ALGORITHM:
        raise SignatureError("only ed25519 signatures are accepted")
    if params.get("headers", HEADERS) != HEADERS:
        raise SignatureError(f'the signature must cover headers="{HEADERS}"')
    parts = params.get("kidId", params.get("keyId", "")).split("|")
    if len(parts) != 3 or not all(parts) or parts[2].lower() != ALGORITHM:
        raise SignatureError('kidId must be "{sender_id}|{key_id}|ed25519"')
    try:
        created, expires = int(params["created"]), int(params["expires"])
        raw = base64.b64decode(params["signature"], validate=True)
    except (KeyError, ValueError, binascii.Error) as exc:
        raise SignatureError("created, expires and signature are required") from exc
    return Signed(parts[0], parts[1], created, expires, raw)


def verify(value: Any, header: Any, message: Any, keys: KeyLookup,
           now: float | None = None) -> Signed:
    """Check that `value` signs this header and message, by a key `keys` knows, now."""
    signed = read(value)
    sender = header.get("sender_id") if isinstance(header, dict) else None
    if signed.sender_id != sender:
        raise SignatureError("the signature's kidId names another sender than the header")
    moment = int(time.time() if now is None else now)
    if signed.created > moment + CLOCK_SKEW or signed.expires <= moment \
            or signed.expires <= signed.created:
        raise SignatureError("the signature is not valid at this time")
    if signed.expires - signed.created > LIFETIME:  # else a replay window of any length
        raise SignatureError(f"a signature lives at most {LIFETIME} seconds")
    public = keys(signed.sender_id, signed.key_id)
    if public is None:
        raise SignatureError(f"no key {signed.key_id!r} is known for {signed.sender_id!r}")
    try:
        public.verify(signed.signature, signing_string(signed.created, signed.expires,
                                                       digest(header, message)))
    except InvalidSignature as exc:
        raise SignatureError("the signature does not match the header and message") from exc
    return signed
