"""Messages between the card-reader daemon and the hub.

Plain JSON on the wire, frozen dataclasses in code. The module uses the standard
library only so that both the daemon (no Flask) and the hub import the same
definitions; the hub's OpenAPI document describes the same shapes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import asdict, dataclass
from typing import Any

API_PREFIX = "/api/v1"
PATH_TERMINAL_TOKEN = f"{API_PREFIX}/oauth/token"
PATH_CHALLENGE = f"{API_PREFIX}/auth/challenge"
PATH_CARD_TOKEN = f"{API_PREFIX}/auth/token"
PATH_LOGOUT = f"{API_PREFIX}/auth/logout"

ALGORITHM = "ES256"
KEY_REFS = ("9A", "9E")
ASSURANCE_BY_KEY = {"9A": "pin", "9E": "tap"}
MAX_CERT_BYTES = 4096
MAX_SIGNATURE_BYTES = 80
MAX_NONCE_BYTES = 64
MIN_NONCE_BYTES = 32
MAX_TOKEN_JSON_BYTES = 8192


class WireError(ValueError):
    """A message that does not have the agreed shape; `reason` is machine-readable."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(value: Any, field: str, max_len: int) -> bytes:
    if not isinstance(value, str):
        raise WireError("token_malformed", f"{field} must be a base64 string")
    if len(value) > (max_len * 4) // 3 + 4:
        raise WireError("token_oversized", f"{field} is too long")
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise WireError("token_malformed", f"{field} is not valid base64") from exc


def signed_digest(origin: str, nonce: bytes) -> bytes:
    """What the card signs: SHA-256(SHA-256(origin) || SHA-256(nonce)), as Web eID does.

    Binding the origin stops a token made for one hub from being replayed at another.
    """
    h_origin = hashlib.sha256(origin.encode("utf-8")).digest()
    h_nonce = hashlib.sha256(nonce).digest()
    return hashlib.sha256(h_origin + h_nonce).digest()


def _require_fields(data: Any, fields: tuple[str, ...]) -> dict:
    if not isinstance(data, dict):
        raise WireError("token_malformed", "expected a JSON object")
    unknown = set(data) - set(fields)
    if unknown:
        raise WireError("token_malformed", f"unknown fields: {', '.join(sorted(unknown))}")
    missing = [f for f in fields if f not in data]
    if missing:
        raise WireError("token_malformed", f"missing fields: {', '.join(missing)}")
    return data


@dataclass(frozen=True)
class Challenge:
    """A single-use nonce the hub hands to one terminal."""

    nonce: bytes
    expires_at: str

    def to_dict(self) -> dict[str, Any]:
        return {"nonce": b64encode(self.nonce), "expires_at": self.expires_at}

    @classmethod
    def from_dict(cls, data: Any) -> Challenge:
        data = _require_fields(data, ("nonce", "expires_at"))
        return cls(b64decode(data["nonce"], "nonce", MAX_NONCE_BYTES), str(data["expires_at"]))


@dataclass(frozen=True)
class CardToken:
    """The card's answer to a challenge: its certificate and its signature."""

    certificate: bytes
    signature: bytes
    key_ref: str
    nonce: bytes
    algorithm: str = ALGORITHM

    FIELDS = ("certificate", "signature", "key_ref", "nonce", "algorithm")

    def to_dict(self) -> dict[str, Any]:
        return {
            "certificate": b64encode(self.certificate),
            "signature": b64encode(self.signature),
            "key_ref": self.key_ref,
            "nonce": b64encode(self.nonce),
            "algorithm": self.algorithm,
        }

    @classmethod
    def from_dict(cls, data: Any) -> CardToken:
        data = _require_fields(data, cls.FIELDS)
        if data["algorithm"] != ALGORITHM:
            raise WireError("token_malformed", f"algorithm must be {ALGORITHM}")
        if data["key_ref"] not in KEY_REFS:
            raise WireError("token_malformed", f"key_ref must be one of {', '.join(KEY_REFS)}")
        nonce = b64decode(data["nonce"], "nonce", MAX_NONCE_BYTES)
        if not MIN_NONCE_BYTES <= len(nonce) <= MAX_NONCE_BYTES:
            raise WireError("token_malformed", "nonce has the wrong length")
        return cls(
            certificate=b64decode(data["certificate"], "certificate", MAX_CERT_BYTES),
            signature=b64decode(data["signature"], "signature", MAX_SIGNATURE_BYTES),
            key_ref=data["key_ref"],
            nonce=nonce,
            algorithm=data["algorithm"],
        )


@dataclass(frozen=True)
class CardSession:
    """What the hub answers to an accepted token, handed on to the screen."""

    session_token: str
    assurance: str
    card_serial: str
    citizen_ref: str
    expires_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> CardSession:
        if not isinstance(data, dict):
            raise WireError("response_malformed", "expected a JSON object")
        try:
            return cls(**{k: str(data[k]) for k in cls.__dataclass_fields__})
        except KeyError as exc:
            raise WireError("response_malformed", f"missing {exc.args[0]}") from exc
