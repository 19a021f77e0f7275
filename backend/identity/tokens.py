"""Short-lived, scoped access tokens for staff, terminals and SPDCI peers: HS256 JWTs.

One hub issues them and the same hub checks them, so a symmetric key is enough;
it is derived from SECRET_KEY for this one purpose, so it signs nothing else (the
Flask session cookie uses SECRET_KEY itself). The token says who and what; whether
that identity is still enabled is read from the database on every request
(`backend.identity.resolver`), so a token outlives a disabled account by nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

ISSUER = "satukartu-hub"
ALGORITHM = "HS256"
TOKEN_TYPE = "at+jwt"  # RFC 9068: tells an access token from any other JWT
# A peer is an SPDCI registry calling /dci/ (backend/dci/oauth.py); its tokens open
# nothing under /api/v1 (the resolver leaves them to the DCI views).
KINDS = ("staff", "terminal", "peer")
# Larger than any token we issue; anything longer is not ours and is not parsed.
MAX_TOKEN_CHARS = 2048
# Tokens whose signature and claims were checked already, by (key, token): a terminal
# sends the same token with every request for its whole lifetime, and parsing and
# verifying it again cost ~40 us each time (bench/bench_auth.py). Only the signature's
# verdict is remembered: expiry is checked on every read, and whether the account is
# still enabled is the resolver's read. Emptied when full, so memory stays bounded.
VERIFIED_MAX = 4096
_verified: dict[tuple[bytes, str], Claims] = {}


class TokenExpired(Exception):
    """A token this hub signed whose lifetime is over (the caller should sign in again)."""


@dataclass(frozen=True)
class Claims:
    kind: str  # "staff" | "terminal"
    subject: str  # username or terminal id
    account_id: str  # staff id or terminal id, the row the resolver reads
    role: str  # staff role or terminal kind
    generation: int
    scopes: frozenset[str]
    expires_at: int


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_in: int
    expires_at: int
    scope: str


def derive_key(secret_key: str) -> OctKey:
    digest = hmac.new(secret_key.encode("utf-8"), b"satukartu identity access tokens v1",
                      hashlib.sha256).digest()
    return OctKey.import_key(digest)


def issue(key: OctKey, *, kind: str, subject: str, account_id: str, role: str,
          generation: int, ttl: int, scopes: tuple[str, ...] = (),
          now: float | None = None) -> IssuedToken:
    """Sign a token; `scopes` default to the role (a terminal's scope is its kind)."""
    if kind not in KINDS:
        raise ValueError(f"unknown token kind {kind!r}")
    issued_at = int(time.time() if now is None else now)
    scope = " ".join(scopes or (role,))
    claims = {
        "iss": ISSUER, "sub": subject, "knd": kind, "aid": account_id, "rol": role,
        "gen": generation, "scope": scope, "iat": issued_at, "exp": issued_at + ttl,
        "jti": secrets.token_urlsafe(12),
    }
    token = jwt.encode({"alg": ALGORITHM, "typ": TOKEN_TYPE}, claims, key, [ALGORITHM])
    return IssuedToken(token, ttl, issued_at + ttl, scope)


def looks_like_ours(token: str) -> bool:
    """A cheap first look, so other kinds of bearer token (card sessions) pass by."""
    return len(token) <= MAX_TOKEN_CHARS and token.startswith("eyJ") and token.count(".") == 2


def read(key: OctKey, token: str, now: float | None = None) -> Claims | None:
    """The claims of a token this hub signed, None for anything else.

    Raises TokenExpired for a genuine token past its `exp`: the caller can tell the
    client to sign in again instead of "not a token".
    """
    if not looks_like_ours(token):
        return None
    claims = _verified.get((key.raw_value, token)) or _verify(key, token)
    if claims is None:
        return None
    if claims.expires_at <= int(time.time() if now is None else now):
        raise TokenExpired(claims.subject)
    return claims


def _verify(key: OctKey, token: str) -> Claims | None:
    """Check the signature and the claims' shape; remember a token that passes."""
    try:
        decoded = jwt.decode(token, key, [ALGORITHM])
    except (JoseError, ValueError, TypeError, UnicodeError):
        return None
    if decoded.header.get("typ") != TOKEN_TYPE:
        return None
    claims = _shape(decoded.claims)
    if claims is not None:
        if len(_verified) >= VERIFIED_MAX:
            _verified.clear()
        _verified[(key.raw_value, token)] = claims
    return claims


def _shape(raw: Mapping[str, Any]) -> Claims | None:
    """The claims as typed values, or None if this is not a token we would have made."""
    strings = ("sub", "aid", "rol", "scope", "knd", "iss")
    if not all(isinstance(raw.get(name), str) for name in strings):
        return None
    if not all(type(raw.get(name)) is int for name in ("gen", "exp", "iat")):
        return None
    if raw["iss"] != ISSUER or raw["knd"] not in KINDS:
        return None
    return Claims(kind=raw["knd"], subject=raw["sub"], account_id=raw["aid"], role=raw["rol"],
                  generation=raw["gen"], scopes=frozenset(raw["scope"].split()),
                  expires_at=raw["exp"])
