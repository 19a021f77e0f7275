"""Staff sign-in: a password (and, where enrolled, a one-time code) checked against the
throttle, or a verified SSO identity.

The order matters. The try is counted (in its own transaction) before the password
is checked, so failures count even though the request itself rolls back; the
account row is read in that same short transaction, and the slow argon2 check runs
outside any transaction. A disabled account is told so only to someone who knew
its password.

An account with TOTP (`backend/identity/totp.py`) needs its code as well. The API
takes both in one request (`password_login(..., totp_code=...)`); the staff sign-in page
asks on two pages (`first_factor`, then `second_factor`). A missing or wrong code is
a failed try like a wrong password: it keeps its count in the throttle and is
audited. A right password alone resets nothing: were it to clear the failures, an
attacker who knew the password could guess codes without end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from backend.auth.principal import Principal
from backend.db import database, session
from backend.errors import ApiError
from backend.identity import events, passwords, ratelimit, state, tokens, totp
from backend.identity.accounts import normalise_username
from backend.identity.models import StaffAccount
from backend.reasons import Reason

_ACCOUNT = select(StaffAccount.id, StaffAccount.username, StaffAccount.role,
                  StaffAccount.enabled, StaffAccount.password_hash,
                  StaffAccount.token_generation, StaffAccount.totp_secret)


@dataclass(frozen=True)
class SignedIn:
    username: str
    role: str
    issued: tokens.IssuedToken


@dataclass(frozen=True)
class NeedsCode:
    """The password step's success for an account with TOTP: what the second step needs
    (kept by the sign-in page in its signed session, for a few minutes)."""

    username: str
    account_id: int
    generation: int
    source: str
    role: str


def password_login(username: str, password: str, address: str | None,
                   ttl: int | None = None, totp_code: str | None = None) -> SignedIn:
    """One request with every factor (the API, the agent's screen). `ttl`: seconds the
    token lives, where not the hub's usual (a screen's shift). An account with TOTP is
    refused `totp_required` without `totp_code`, `totp_invalid` with a wrong one."""
    key, row, new_hash = _check_password(username, password, address)
    method = "password"
    if row.totp_secret is not None:
        _check_code(key, row, totp_code)
        method = "password+totp"
    return _settle(key, row, new_hash, method, ttl)


def first_factor(username: str, password: str, address: str | None,
                 ttl: int | None = None) -> SignedIn | NeedsCode:
    """The password page: signed in, or (an account with TOTP) what the code page needs.

    The password's try stays counted until the code comes (`second_factor` gives it
    back); it is audited as `totp_required`, like the API's answer without a code."""
    key, row, new_hash = _check_password(username, password, address)
    if row.totp_secret is None:
        return _settle(key, row, new_hash, "password", ttl)
    _record_failure(key, Reason.TOTP_REQUIRED)
    if new_hash is not None:
        session().execute(update(StaffAccount).where(StaffAccount.id == row.id)
                          .values(password_hash=new_hash))
    return NeedsCode(row.username, row.id, row.token_generation, key.source, row.role)


def second_factor(pending: NeedsCode, code: str | None, address: str | None,
                  ttl: int | None = None) -> SignedIn:
    """The code page: the one-time code of the account whose password was right. The
    account must be as it was then (enabled, not signed out everywhere since, TOTP
    still on) and the browser at the same address; otherwise sign in again."""
    key = ratelimit.Key(ratelimit.STAFF_REALM, pending.username, ratelimit.source_key(address))
    with database().transaction() as counting:
        ratelimit.reserve(counting, key, ratelimit.STAFF_POLICY)
        row = counting.execute(_ACCOUNT.where(StaffAccount.id == pending.account_id)).first()
    if row is None or row.username != pending.username or not row.enabled or \
            row.token_generation != pending.generation or row.totp_secret is None or \
            key.source != pending.source:
        _record_failure(key, Reason.INVALID_CREDENTIALS, "totp")
        raise ApiError(Reason.INVALID_CREDENTIALS, "the sign-in must start again", 401,
                       audited=True)
    _check_code(key, row, code, "totp")
    # The password's try (counted by `first_factor`) is given back with this one.
    ratelimit.settle_success(session(), key, ratelimit.STAFF_POLICY)
    return _settle(key, row, None, "password+totp", ttl)


def _check_password(username: str, password: str, address: str | None
                    ) -> tuple[ratelimit.Key, Any, str | None]:
    username = normalise_username(username)
    key = ratelimit.Key(ratelimit.STAFF_REALM, username, ratelimit.source_key(address))
    with database().transaction() as counting:
        ratelimit.reserve(counting, key, ratelimit.STAFF_POLICY)
        row = counting.execute(_ACCOUNT.where(StaffAccount.username == username)).first()
    ok, new_hash = passwords.verify(row.password_hash if row else None, password)
    if not ok or row is None:
        _record_failure(key, Reason.INVALID_CREDENTIALS)
        raise ApiError(Reason.INVALID_CREDENTIALS, "wrong username or password", 401,
                       audited=True)
    if not row.enabled:
        _record_failure(key, Reason.ACCOUNT_DISABLED)
        raise ApiError(Reason.ACCOUNT_DISABLED, "this staff account is disabled", 403,
                       audited=True)
    return key, row, new_hash


def _check_code(key: ratelimit.Key, row: Any, code: str | None,
                method: str = "password") -> None:
    if not totp.normalise(code):
        _record_failure(key, Reason.TOTP_REQUIRED, method)
        raise ApiError(Reason.TOTP_REQUIRED, "this account needs its one-time code (totp)",
                       401, audited=True)
    if not totp.verify(session(), row.id, row.totp_secret, code):
        _record_failure(key, Reason.TOTP_INVALID, method)
        raise ApiError(Reason.TOTP_INVALID, "wrong one-time code, or one used already", 401,
                       audited=True)


def _settle(key: ratelimit.Key, row: Any, new_hash: str | None, method: str,
            ttl: int | None) -> SignedIn:
    now = ratelimit.utcnow()
    ratelimit.settle_success(session(), key, ratelimit.STAFF_POLICY, now)
    values: dict[str, Any] = {"last_login_at": now}
    if new_hash is not None:
        values["password_hash"] = new_hash
    session().execute(update(StaffAccount).where(StaffAccount.id == row.id).values(**values))
    return _signed_in(row, method, key.source, ttl)


def sso_login(claims: dict[str, Any], ttl: int | None = None) -> SignedIn:
    """Map a verified ID token to an account: by `sub` once linked, else by verified e-mail.
    `ttl`: seconds the token lives, where not the hub's usual (a screen's shift)."""
    sub = claims["sub"]
    if not sub or len(sub) > 255 or any(ord(c) < 0x20 or c == "\x7f" for c in sub):
        raise ApiError(Reason.SSO_FAILED, "the provider sent an unusable subject", 401)
    account = session().execute(select(StaffAccount).where(
        StaffAccount.oidc_subject == sub)).scalar_one_or_none()
    if account is None:
        account = _link_by_email(claims)
    if not account.enabled:
        raise ApiError(Reason.ACCOUNT_DISABLED, "this staff account is disabled", 403)
    account.last_login_at = ratelimit.utcnow()
    session().flush()
    return _signed_in(account, "sso", None, ttl)


def _link_by_email(claims: dict[str, Any]) -> StaffAccount:
    email = claims.get("email")
    if not isinstance(email, str) or claims.get("email_verified") is not True or \
            "\x00" in email:
        raise ApiError(Reason.SSO_NO_ACCOUNT, "no staff account is linked to this sign-on "
                       "identity", 403)
    account = session().execute(select(StaffAccount).where(
        StaffAccount.email == email.strip().lower())).scalar_one_or_none()
    if account is None or account.oidc_subject is not None:
        raise ApiError(Reason.SSO_NO_ACCOUNT, "no staff account is linked to this sign-on "
                       "identity", 403)
    account.oidc_subject = claims["sub"]
    events.record(session(), action="staff.sso_link", subject_type="staff",
                  subject_id=account.username, details={"by": "verified_email"},
                  principal=_principal(account.username, account.role))
    return account


def _signed_in(account: Any, method: str, source: str | None,
               ttl: int | None = None) -> SignedIn:
    issued = tokens.issue(state().key, kind="staff", subject=account.username,
                          account_id=str(account.id), role=account.role,
                          generation=account.token_generation, ttl=ttl or state().ttl)
    details = {"method": method} | ({"source": source} if source else {})
    events.record(session(), action="staff.login", subject_type="staff",
                  subject_id=account.username, details=details,
                  principal=_principal(account.username, account.role))
    return SignedIn(account.username, account.role, issued)


def _record_failure(key: ratelimit.Key, reason: Reason, method: str = "password") -> None:
    """The failure's audit record, committed on its own: the request will roll back."""
    session().rollback()
    with database().transaction() as own:
        events.record(own, action="staff.login", subject_type="staff", subject_id=key.account,
                      outcome=reason.value, details={"method": method,
                                                     "source": key.source})


def _principal(username: str, role: str) -> Principal:
    return Principal(kind="staff", subject=username, role=role, scopes=frozenset({role}))
