"""Staff sign-in: a password checked against the throttle, or a verified SSO identity.

The order matters. The try is counted (in its own transaction) before the password
is checked, so failures count even though the request itself rolls back; the
account row is read in that same short transaction, and the slow argon2 check runs
outside any transaction. A disabled account is told so only to someone who knew
its password.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from backend.auth.principal import Principal
from backend.db import database, session
from backend.errors import ApiError
from backend.identity import events, passwords, ratelimit, state, tokens
from backend.identity.accounts import normalise_username
from backend.identity.models import StaffAccount
from backend.reasons import Reason

_ACCOUNT = select(StaffAccount.id, StaffAccount.username, StaffAccount.role,
                  StaffAccount.enabled, StaffAccount.password_hash,
                  StaffAccount.token_generation)


@dataclass(frozen=True)
class SignedIn:
    username: str
    role: str
    issued: tokens.IssuedToken


def password_login(username: str, password: str, address: str | None,
                   ttl: int | None = None) -> SignedIn:
    """`ttl`: seconds the token lives, where not the hub's usual (a screen's shift)."""
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
    now = ratelimit.utcnow()
    ratelimit.settle_success(session(), key, ratelimit.STAFF_POLICY, now)
    values: dict[str, Any] = {"last_login_at": now}
    if new_hash is not None:
        values["password_hash"] = new_hash
    session().execute(update(StaffAccount).where(StaffAccount.id == row.id).values(**values))
    return _signed_in(row, "password", key.source, ttl)


def sso_login(claims: dict[str, Any]) -> SignedIn:
    """Map a verified ID token to an account: by `sub` once linked, else by verified e-mail."""
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
    return _signed_in(account, "sso", None)


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


def _record_failure(key: ratelimit.Key, reason: Reason) -> None:
    """The failure's audit record, committed on its own: the request will roll back."""
    session().rollback()
    with database().transaction() as own:
        events.record(own, action="staff.login", subject_type="staff", subject_id=key.account,
                      outcome=reason.value, details={"method": "password",
                                                     "source": key.source})


def _principal(username: str, role: str) -> Principal:
    return Principal(kind="staff", subject=username, role=role, scopes=frozenset({role}))
