"""Card authentication after Web eID: a challenge for a terminal, a signed token back.

The token is checked in the order DESIGN.md promises, each failure with its own
reason: shape and size; the nonce (known, unexpired, unused, this terminal's); the
certificate (trusted issuer, validity, usage and policy for its key); the card's
status, read in this same transaction; the signature. Then a session opens.

This is the hub's hottest path: Core statements on the request's connection (the ORM's
per-object cost would be most of the budget), the certificate verdict cached by hash
(`chain.py`), and one round trip per step. `bench/bench_auth.py` measures it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from backend.auth.principal import CardContext, Principal
from backend.cards.chain import (
    CardCertificate,
    CertificateMalformed,
    CertificateRefused,
    TrustStore,
)
from backend.cards.models import Card, CardSession, Challenge
from backend.errors import ApiError
from backend.reasons import Reason
from card_reader import wire

challenges = Challenge.__table__
cards = Card.__table__
card_sessions = CardSession.__table__

NONCE_BYTES = 32  # 256 bits
SESSION_PREFIX = "sks_"
SESSION_TOKEN_MAX = 64
ECDSA_SHA256 = ec.ECDSA(Prehashed(hashes.SHA256()))
STATUS_REASONS = {"suspended": Reason.CARD_SUSPENDED, "revoked": Reason.CARD_REVOKED,
                  "superseded": Reason.CARD_SUPERSEDED}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def as_utc(value: dt.datetime) -> dt.datetime:
    """SQLite hands timestamps back without their zone; they were written as UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def digest(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def refuse(reason: Reason, message: str, status: int = 401) -> ApiError:
    return ApiError(reason, message, status)


# --- challenge ----------------------------------------------------------------


def issue_challenge(conn: Connection, terminal_id: str, ttl: int,
                    now: dt.datetime | None = None) -> wire.Challenge:
    """A fresh 256-bit nonce bound to `terminal_id`; only its hash is stored."""
    expires = (now or utcnow()) + dt.timedelta(seconds=ttl)
    nonce = secrets.token_bytes(NONCE_BYTES)
    conn.execute(insert(challenges).values(nonce_hash=digest(nonce), terminal_id=terminal_id,
                                           expires_at=expires))
    return wire.Challenge(nonce, expires.isoformat())


# --- token shape ----------------------------------------------------------------


@dataclass(frozen=True)
class ParsedToken:
    token: wire.CardToken
    certificate: CardCertificate


def parse_token(raw: bytes, trust: TrustStore) -> ParsedToken:
    """The token's shape and size; nothing here touches the database."""
    if len(raw) > wire.MAX_TOKEN_JSON_BYTES:
        raise refuse(Reason.TOKEN_OVERSIZED, "the token is larger than "
                     f"{wire.MAX_TOKEN_JSON_BYTES} bytes", 413)
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise refuse(Reason.TOKEN_MALFORMED, "the token is not JSON", 400) from exc
    try:
        token = wire.CardToken.from_dict(data)
    except wire.WireError as exc:
        raise refuse(Reason(exc.reason), exc.detail,
                     413 if exc.reason == Reason.TOKEN_OVERSIZED else 400) from exc
    try:
        cert = trust.inspect(token.certificate)
    except CertificateMalformed as exc:
        raise refuse(Reason.TOKEN_MALFORMED, str(exc), 400) from exc
    return ParsedToken(token, cert)


# --- nonce ----------------------------------------------------------------------


def consume_nonce(conn: Connection, nonce: bytes, terminal_id: str, now: dt.datetime) -> bytes:
    """Mark the nonce used if it is known, fresh, unused and this terminal's.

    One UPDATE ... RETURNING decides the usual case; only a refusal reads the row
    again to say which rule it broke. Returns the nonce's hash.
    """
    nonce_hash = digest(nonce)
    row = conn.execute(
        update(challenges)
        .where(challenges.c.nonce_hash == nonce_hash, challenges.c.used_at.is_(None),
               challenges.c.expires_at > now, challenges.c.terminal_id == terminal_id)
        .values(used_at=now).returning(challenges.c.id)).first()
    if row is not None:
        return nonce_hash
    found = conn.execute(select(challenges.c.terminal_id, challenges.c.expires_at,
                                challenges.c.used_at)
                         .where(challenges.c.nonce_hash == nonce_hash)).first()
    if found is None:
        raise refuse(Reason.NONCE_UNKNOWN, "the hub did not issue this nonce")
    if as_utc(found.expires_at) <= now:
        raise refuse(Reason.NONCE_EXPIRED, "the nonce has expired; ask for a new challenge")
    if found.used_at is not None:
        raise refuse(Reason.NONCE_REUSED, "the nonce was used already")
    raise refuse(Reason.NONCE_OTHER_TERMINAL, "the nonce was issued to another terminal")


def burn_nonce(conn: Connection, nonce_hash: bytes, now: dt.datetime) -> None:
    """Mark a nonce used after a later check refused the token: one try per nonce."""
    conn.execute(update(challenges)
                 .where(challenges.c.nonce_hash == nonce_hash, challenges.c.used_at.is_(None))
                 .values(used_at=now))


# --- certificate and card ---------------------------------------------------------


def check_certificate(cert: CardCertificate, key_ref: str, now: dt.datetime) -> None:
    try:
        cert.check(key_ref, now)
    except CertificateRefused as exc:
        raise refuse(exc.reason, exc.detail) from exc


@dataclass(frozen=True)
class CardRow:
    id: int
    serial: str
    citizen_id: int


def read_card(conn: Connection, cert: CardCertificate, key_ref: str) -> CardRow:
    """The card this certificate was issued for, if it is active now.

    On PostgreSQL the row is share-locked until the session is committed, so a
    revocation committing meanwhile waits for us and then ends the new session too.
    """
    column = cards.c.cert_9a_sha256 if key_ref == "9A" else cards.c.cert_9e_sha256
    stmt = select(cards.c.id, cards.c.serial, cards.c.citizen_id, cards.c.status,
                  column.label("fingerprint")).where(cards.c.card_uuid == cert.card_uuid)
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(read=True)
    row = conn.execute(stmt).first() if cert.card_uuid else None
    if row is None or row.fingerprint != cert.sha256:
        raise refuse(Reason.CARD_UNKNOWN, "no card was issued with this certificate", 403)
    if row.status != "active":
        raise refuse(STATUS_REASONS[row.status], f"the card is {row.status}", 403)
    return CardRow(row.id, row.serial, row.citizen_id)


def check_signature(cert: CardCertificate, signature: bytes, origin: str, nonce: bytes) -> None:
    assert cert.public_key is not None  # a certificate with a usable key passed check()
    try:
        cert.public_key.verify(signature, wire.signed_digest(origin, nonce), ECDSA_SHA256)
    except (InvalidSignature, ValueError) as exc:
        raise refuse(Reason.SIGNATURE_INVALID, "the card's signature does not verify") from exc


# --- session ----------------------------------------------------------------------


@dataclass(frozen=True)
class OpenedSession:
    token: str
    public_id: str
    card: CardRow
    assurance: str
    terminal_id: str
    terminal_kind: str
    expires_at: dt.datetime

    def principal(self) -> Principal:
        """Who acts through this session (the card at its terminal), e.g. for the audit."""
        context = CardContext(session_id=self.public_id, card_serial=self.card.serial,
                              citizen_id=self.card.citizen_id, assurance=self.assurance,
                              terminal_id=self.terminal_id)
        return Principal(kind="card", subject=self.card.serial, role=self.terminal_kind,
                         terminal_id=self.terminal_id, card=context)

    def to_wire(self) -> wire.CardSession:
        return wire.CardSession(session_token=self.token, assurance=self.assurance,
                                card_serial=self.card.serial,
                                citizen_ref=str(self.card.citizen_id),
                                expires_at=self.expires_at.isoformat())


def open_session(conn: Connection, card: CardRow, terminal: Principal, assurance: str,
                 ttl: int, now: dt.datetime) -> OpenedSession:
    token = SESSION_PREFIX + secrets.token_urlsafe(32)
    public_id = secrets.token_hex(12)
    expires = now + dt.timedelta(seconds=ttl)
    terminal_id, kind = terminal.terminal_id or terminal.subject, terminal.role or ""
    conn.execute(insert(card_sessions).values(
        token_hash=digest(token.encode()), public_id=public_id, card_id=card.id,
        terminal_id=terminal_id, terminal_kind=kind, assurance=assurance, created_at=now,
        expires_at=expires))
    return OpenedSession(token, public_id, card, assurance, terminal_id, kind, expires)


def end_session(conn: Connection, public_id: str, reason: str, now: dt.datetime) -> bool:
    result = conn.execute(update(card_sessions)
                          .where(card_sessions.c.public_id == public_id,
                                 card_sessions.c.ended_at.is_(None))
                          .values(ended_at=now, end_reason=reason))
    return result.rowcount == 1


def end_card_sessions(conn: Connection, card_id: int, reason: str, now: dt.datetime) -> int:
    """End every open session of a card (suspension, revocation, replacement)."""
    result = conn.execute(update(card_sessions)
                          .where(card_sessions.c.card_id == card_id,
                                 card_sessions.c.ended_at.is_(None))
                          .values(ended_at=now, end_reason=reason))
    return result.rowcount
