"""A second factor for local staff accounts: time-based one-time codes (RFC 6238).

An admin turns it on for an account (`satukartu staff totp enable USERNAME`), which
prints the secret and an `otpauth://` URI once, for the person's authenticator app.
From then on a password alone signs nobody in: the API wants the 6-digit code in the
same request (`totp`), the staff sign-in page asks for it on a page of its own.
Sign-ins through the city's SSO are not asked: the city's provider has its own.

Checking a code: SHA-1, 6 digits, 30 s steps (what every authenticator app does by
default); the step before and after are accepted too, for clocks that drift and
people who type slowly. A code is good once: the account remembers the last step it
accepted and takes only a later one, with a conditional UPDATE, so two requests
racing with the same code cannot both win.

The secret at rest: the hub must read it back (unlike a password, it cannot be
hashed), so it is sealed with AES-256-GCM under a key derived from SATUKARTU_SECRET_KEY
for this one purpose, with the account's id as associated data. A database dump alone
yields no usable secret, and a sealed secret copied to another account's row does not
open. The cost: a hub given a new SECRET_KEY cannot open the old secrets; those
accounts are refused `totp_invalid` until an admin enrols them again (disable, enable).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import time
from dataclasses import dataclass

import pyotp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app
from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from backend.auth.principal import Principal
from backend.db import rowcount
from backend.identity import events
from backend.identity.models import StaffAccount

log = logging.getLogger(__name__)

ISSUER = "SatuKartu"
DIGITS = 6
STEP_SECONDS = 30
WINDOW = 1  # steps accepted either side of now
SEALED_PREFIX = "v1:"
_LABEL = b"satukartu staff totp secrets v1"
_NONCE_BYTES = 12


@dataclass(frozen=True)
class Enrolment:
    """What the person's authenticator app needs; shown once, never stored in clear."""

    secret: str
    uri: str


class UnreadableSecret(Exception):
    """The sealed secret does not open under this hub's key (SECRET_KEY changed)."""


# --- the secret at rest -------------------------------------------------------------

def _key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode("utf-8"), _LABEL, hashlib.sha256).digest()


def _bound_to(account_id: int) -> bytes:
    return b"staff:%d" % account_id


def seal(secret: str, account_id: int, secret_key: str | None = None) -> str:
    """The secret as the database keeps it: `v1:` + base64url(nonce ‖ ciphertext)."""
    key = _key(secret_key or current_app.config["SECRET_KEY"])
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, secret.encode("ascii"), _bound_to(account_id))
    return SEALED_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def unseal(stored: str, account_id: int, secret_key: str | None = None) -> str:
    key = _key(secret_key or current_app.config["SECRET_KEY"])
    if not stored.startswith(SEALED_PREFIX):
        raise UnreadableSecret("not a sealed secret")
    try:
        raw = base64.urlsafe_b64decode(stored.removeprefix(SEALED_PREFIX))
        plain = AESGCM(key).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:],
                                    _bound_to(account_id))
    except (InvalidTag, ValueError) as exc:
        raise UnreadableSecret("the secret does not open with this hub's key") from exc
    return plain.decode("ascii")


# --- codes ---------------------------------------------------------------------------

def new_enrolment(username: str) -> Enrolment:
    """A fresh 160-bit secret and its provisioning URI (issuer SatuKartu, the username)."""
    secret = pyotp.random_base32(32)
    return Enrolment(secret, pyotp.TOTP(secret).provisioning_uri(name=username,
                                                                 issuer_name=ISSUER))


def normalise(code: str | None) -> str:
    """What people type: spaces and dashes between the digits are dropped."""
    return "".join(ch for ch in (code or "") if ch not in " -\t")


def current_step(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // STEP_SECONDS)


def code_at(secret: str, step: int) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).at(step * STEP_SECONDS)


def matching_step(secret: str, code: str | None, now: float | None = None) -> int | None:
    """The latest time step within the window whose code is `code`; None if none is."""
    code = normalise(code)
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    here = current_step(now)
    found = None
    for step in range(here - WINDOW, here + WINDOW + 1):
        if hmac.compare_digest(code_at(secret, step), code):
            found = step
    return found


def accept(session: Session, account_id: int, step: int) -> bool:
    """Take the code of `step` for this account, once: False if that step, or a later
    one, was taken already (a replayed or raced code)."""
    taken = session.execute(
        update(StaffAccount).where(StaffAccount.id == account_id, or_(
            StaffAccount.totp_last_step.is_(None), StaffAccount.totp_last_step < step))
        .values(totp_last_step=step))
    return rowcount(taken) == 1


def verify(session: Session, account_id: int, stored: str, code: str | None,
           now: float | None = None) -> bool:
    """The whole check: the secret opens, the code matches a step in the window, and
    that step is later than any this account used before (it is taken now)."""
    try:
        secret = unseal(stored, account_id)
    except UnreadableSecret:
        log.error("staff account %s: its TOTP secret does not open with this hub's "
                  "SECRET_KEY; enrol it again", account_id)
        return False
    step = matching_step(secret, code, now)
    return step is not None and accept(session, account_id, step)


# --- enrolment -----------------------------------------------------------------------

def enable(session: Session, account: StaffAccount,
           principal: Principal | None = None) -> Enrolment:
    """Give the account a new secret (replacing any old one); audited, secret not logged."""
    enrolment = new_enrolment(account.username)
    account.totp_secret = seal(enrolment.secret, account.id)
    account.totp_last_step = None
    events.record(session, action="staff.totp_enable", subject_type="staff",
                  subject_id=account.username, principal=principal)
    return enrolment


def disable(session: Session, account: StaffAccount,
            principal: Principal | None = None) -> None:
    account.totp_secret = None
    account.totp_last_step = None
    events.record(session, action="staff.totp_disable", subject_type="staff",
                  subject_id=account.username, principal=principal)
