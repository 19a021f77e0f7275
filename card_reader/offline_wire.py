"""Redemptions made while an agent's link to the hub is down: what the card signs, what
the daemon queues and later sends, and what the hub answers.

Standard library only, like `wire.py`, so the daemon and the hub build the same bytes.

An offline redemption is signed by the card itself with key 9A, after the citizen's
PIN: the card signs SHA-256 of `signed_bytes`, a fixed prefix and the redemption's
fields as canonical JSON (keys sorted, no spaces, UTF-8), the hub's origin included
so a redemption made for one city cannot be posted at another. Whoever holds the
queued record later (the agent, the hub, an auditor) can check that this card agreed
to this amount, for this programme, at this agent's terminal, at this time, as this
terminal's `counter`-th offline redemption.

The API (terminal tokens of kind agent only):

- `GET PATH_OFFLINE_BUNDLE`: what the daemon keeps to judge cards by itself (`Bundle`):
  the city's CA certificates, the latest signed CRL, the grace past its nextUpdate,
  the programmes that may be redeemed offline with their caps, and the highest
  counter the hub has from this terminal.
- `POST PATH_OFFLINE_REDEMPTIONS` with `{"redemptions": [SignedRedemption, ...]}` (at
  most MAX_BATCH): 200 `{"results": [Result, ...]}`, one per redemption, in order.
  Every result is final (a repeat of the same key answers the same result), so the
  daemon drops whatever has a result from its queue and keeps the rest for later.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from typing import Any

from card_reader.wire import API_PREFIX, MAX_CERT_BYTES, MAX_SIGNATURE_BYTES, b64decode, b64encode

PATH_OFFLINE_BUNDLE = f"{API_PREFIX}/offline/bundle"
PATH_OFFLINE_REDEMPTIONS = f"{API_PREFIX}/offline/redemptions"
SIGNED_PREFIX = b"SatuKartu offline redemption v1\n"
MAX_BATCH = 50
MAX_AMOUNT = 999_999_999
MAX_COUNTER = 2**53
MAX_CRL_NUMBER = 2**31 - 1  # the hub keeps it in a 32-bit INTEGER column
KEY_PATTERN = re.compile(r"^[0-9a-f]{32}$")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
TIME_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
SERIAL_PATTERN = re.compile(r"^[0-9a-f]{1,40}$")

# Result statuses
POSTED = "posted"  # the purse paid it all
SHORTFALL = "shortfall"  # the purse paid what it had; the programme's offline risk the rest
REFUSED = "refused"  # not posted at all, with a reason (the agent is not paid for it)
STATUSES = (POSTED, SHORTFALL, REFUSED)


class OfflineWireError(ValueError):
    """A redemption or bundle of the wrong shape; `reason` is machine-readable."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _malformed(detail: str) -> OfflineWireError:
    return OfflineWireError("redemption_malformed", detail)


def _fields(data: Any, fields: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict:
    if not isinstance(data, dict):
        raise _malformed("expected a JSON object")
    unknown = set(data) - set(fields) - set(optional)
    if unknown:
        raise _malformed(f"unknown fields: {', '.join(sorted(unknown))}")
    missing = [f for f in fields if f not in data]
    if missing:
        raise _malformed(f"missing fields: {', '.join(missing)}")
    return data


def _text(data: dict, name: str, pattern: re.Pattern[str]) -> str:
    value = data[name]
    if not isinstance(value, str) or not pattern.match(value):
        raise _malformed(f"{name} has the wrong shape")
    return value


def _whole(data: dict, name: str, low: int, high: int) -> int:
    value = data[name]
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise _malformed(f"{name} must be a whole number from {low} to {high}")
    return value


@dataclass(frozen=True)
class OfflineRedemption:
    """What the card signs. `category` is the goods' category for a purse that limits
    them (None for one that does not); `redeemed_at` is the daemon's clock, UTC, to the
    second; `card_serial` is the 9A certificate's serial (lower-case hex), and
    `crl_number` the CRL the daemon judged the card by."""

    key: str
    terminal: str
    counter: int
    programme: str
    purse: str
    amount: int
    category: str | None
    redeemed_at: str
    card_serial: str
    crl_number: int

    FIELDS = ("key", "terminal", "counter", "programme", "purse", "amount", "category",
              "redeemed_at", "card_serial", "crl_number")

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.FIELDS}

    def signed_bytes(self, origin: str) -> bytes:
        body = {**self.to_dict(), "origin": origin}
        return SIGNED_PREFIX + json.dumps(body, sort_keys=True, separators=(",", ":"),
                                          ensure_ascii=False).encode("utf-8")

    def digest(self, origin: str) -> bytes:
        """What the card's key 9A signs (the card signs a digest, as for a challenge)."""
        return hashlib.sha256(self.signed_bytes(origin)).digest()

    @classmethod
    def from_dict(cls, data: Any) -> OfflineRedemption:
        data = _fields(data, cls.FIELDS)
        category = data["category"]
        if category is not None and (not isinstance(category, str)
                                     or not NAME_PATTERN.match(category)):
            raise _malformed("category has the wrong shape")
        terminal = data["terminal"]
        if not isinstance(terminal, str) or not 0 < len(terminal) <= 64:
            raise _malformed("terminal has the wrong shape")
        return cls(
            key=_text(data, "key", KEY_PATTERN), terminal=terminal,
            counter=_whole(data, "counter", 1, MAX_COUNTER),
            programme=_text(data, "programme", NAME_PATTERN),
            purse=_text(data, "purse", NAME_PATTERN),
            amount=_whole(data, "amount", 1, MAX_AMOUNT), category=category,
            redeemed_at=_text(data, "redeemed_at", TIME_PATTERN),
            card_serial=_text(data, "card_serial", SERIAL_PATTERN),
            crl_number=_whole(data, "crl_number", 0, MAX_CRL_NUMBER))


@dataclass(frozen=True)
class SignedRedemption:
    """A redemption with the card's 9A certificate and its ECDSA signature (DER)."""

    redemption: OfflineRedemption
    certificate: bytes
    signature: bytes

    def to_dict(self) -> dict[str, Any]:
        return {"redemption": self.redemption.to_dict(),
                "certificate": b64encode(self.certificate),
                "signature": b64encode(self.signature)}

    @classmethod
    def from_dict(cls, data: Any) -> SignedRedemption:
        data = _fields(data, ("redemption", "certificate", "signature"))
        try:
            certificate = b64decode(data["certificate"], "certificate", MAX_CERT_BYTES)
            signature = b64decode(data["signature"], "signature", MAX_SIGNATURE_BYTES)
        except ValueError as exc:
            raise _malformed(str(exc)) from exc
        return cls(OfflineRedemption.from_dict(data["redemption"]), certificate, signature)


@dataclass(frozen=True)
class Result:
    """The hub's final word on one redemption: `paid` came from the card holder's purse,
    `shortfall` from the programme's offline-risk account (their sum is the amount the
    agent is paid); a refusal has a `reason` and pays nothing."""

    key: str
    status: str
    paid: int = 0
    shortfall: int = 0
    entry_id: int | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Result:
        data = _fields(data, ("key", "status"), ("paid", "shortfall", "entry_id", "reason"))
        if data["status"] not in STATUSES:
            raise _malformed("status is not one of " + ", ".join(STATUSES))
        return cls(key=_text(data, "key", KEY_PATTERN), status=data["status"],
                   paid=int(data.get("paid") or 0), shortfall=int(data.get("shortfall") or 0),
                   entry_id=data.get("entry_id"), reason=data.get("reason"))


@dataclass(frozen=True)
class OfflineProgramme:
    """A purse that may be redeemed offline, and its caps: per card and per agent
    terminal in a day of the city's clock, and per redemption. `categories` are the
    goods the purse buys (empty: any); `title` is the programme's name by language."""

    programme: str
    purse: str
    title: dict[str, str]
    categories: tuple[str, ...]
    card_daily_cap: int
    agent_daily_cap: int
    max_redemption: int

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "categories": list(self.categories)}

    @classmethod
    def from_dict(cls, data: Any) -> OfflineProgramme:
        data = _fields(data, ("programme", "purse", "title", "categories", "card_daily_cap",
                              "agent_daily_cap", "max_redemption"))
        return cls(programme=str(data["programme"]), purse=str(data["purse"]),
                   title={str(k): str(v) for k, v in dict(data["title"]).items()},
                   categories=tuple(str(c) for c in data["categories"]),
                   card_daily_cap=int(data["card_daily_cap"]),
                   agent_daily_cap=int(data["agent_daily_cap"]),
                   max_redemption=int(data["max_redemption"]))


@dataclass(frozen=True)
class Bundle:
    """What the hub gives an agent's daemon to work offline. Certificates are PEM; `crl`
    is the issuing CA's latest CRL (DER); `timezone` is the city's (caps count its
    days); `counter` is the highest this terminal's redemptions the hub has seen."""

    terminal: str
    origin: str
    timezone: str
    roots: tuple[str, ...]
    issuers: tuple[str, ...]
    crl: bytes
    crl_grace_hours: int
    programmes: tuple[OfflineProgramme, ...]
    counter: int

    def to_dict(self) -> dict[str, Any]:
        return {"terminal": self.terminal, "origin": self.origin, "timezone": self.timezone,
                "roots": list(self.roots), "issuers": list(self.issuers),
                "crl": b64encode(self.crl), "crl_grace_hours": self.crl_grace_hours,
                "programmes": [p.to_dict() for p in self.programmes],
                "counter": self.counter}

    @classmethod
    def from_dict(cls, data: Any) -> Bundle:
        data = _fields(data, ("terminal", "origin", "timezone", "roots", "issuers", "crl",
                              "crl_grace_hours", "programmes", "counter"))
        try:
            crl = b64decode(data["crl"], "crl", 4 * 1024 * 1024)
        except ValueError as exc:
            raise _malformed(str(exc)) from exc
        return cls(terminal=str(data["terminal"]), origin=str(data["origin"]),
                   timezone=str(data["timezone"]),
                   roots=tuple(str(p) for p in data["roots"]),
                   issuers=tuple(str(p) for p in data["issuers"]), crl=crl,
                   crl_grace_hours=int(data["crl_grace_hours"]),
                   programmes=tuple(OfflineProgramme.from_dict(p) for p in data["programmes"]),
                   counter=int(data["counter"]))
