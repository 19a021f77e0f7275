"""Ed25519 public keys as JWKS (RFC 8037 `OKP` keys): ours to publish, a peer's to read.

Each JWK's `kid` is the signature's whole `kidId` ("{sender_id}|{key_id}|ed25519"), so
a peer finds the key of a signature by the string in it; a JWK whose `kid` is the bare
key id is found too. Our retired keys stay published: what they signed still verifies.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from backend.dci.signing import ALGORITHM, kid
from backend.keys.ring import Keyring

MAX_KEYS = 20


class JwksError(ValueError):
    """Not a JWKS of Ed25519 public keys; the message says what is wrong."""


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def public_jwk(public: Ed25519PublicKey, key_id: str) -> dict[str, str]:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw), "kid": key_id,
            "alg": "EdDSA", "use": "sig"}


def publish(ring: Keyring, sender_id: str) -> dict[str, Any]:
    """Our JWKS: every key of the keyring, current and retired, oldest first."""
    return {"keys": [public_jwk(k.public, kid(sender_id, k.key_id)) for k in ring.keys]}


def read(document: str | dict[str, Any]) -> dict[str, Ed25519PublicKey]:
    """{kid: public key} of a JWKS; JwksError for anything that is not one."""
    try:
        data = json.loads(document) if isinstance(document, str) else document
    except ValueError as exc:
        raise JwksError("not JSON") from exc
    keys = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(keys, list) or len(keys) > MAX_KEYS:
        raise JwksError(f'a JWKS is {{"keys": [...]}} with at most {MAX_KEYS} keys')
    found = {}
    for jwk in keys:
        if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            raise JwksError("every key must be an Ed25519 OKP key")
        key_id, x = jwk.get("kid"), jwk.get("x")
        if not isinstance(key_id, str) or not key_id or not isinstance(x, str):
            raise JwksError("every key needs a kid and an x")
        try:
            raw = base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
            found[key_id] = Ed25519PublicKey.from_public_bytes(raw)
        except (ValueError, binascii.Error) as exc:
            raise JwksError(f"key {key_id!r}: x is not a 32-byte Ed25519 public key") from exc
    return found


def lookup(keys: dict[str, Ed25519PublicKey], sender_id: str, key_id: str
           ) -> Ed25519PublicKey | None:
    """The key a signature names, by its whole kidId or its bare key id."""
    return keys.get(kid(sender_id, key_id)) or keys.get(key_id)


def dumps(keys: dict[str, Any]) -> str:
    return json.dumps(keys, sort_keys=True, separators=(",", ":"))


__all__ = ["ALGORITHM", "JwksError", "dumps", "lookup", "public_jwk", "publish", "read"]
