"""Staff accounts and terminals: create, list, disable, enable, unlock, new secret.

One implementation for the API, the CLI and the test fixtures. Each function works
in the caller's session and transaction, writes its audit record there, and refuses
with an ApiError carrying a Reason; nothing here commits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.auth.principal import STAFF_ROLES, TERMINAL_KINDS, Principal
from backend.errors import ApiError
from backend.identity import events, passwords, ratelimit
from backend.identity.models import StaffAccount, Terminal
from backend.reasons import Reason

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
TERMINAL_ID = re.compile(r"^[a-z]{1,16}-[0-9a-f]{10}$")
# An agent's category, as purse rules name it (`agent_categories`): "e-warong", "bank_agent".
TERMINAL_CATEGORY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def normalise_username(raw: str) -> str:
    return raw.strip().lower()


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


# --- staff -------------------------------------------------------------------------

def create_staff(session: Session, *, username: str, role: str, display_name: str = "",
                 email: str | None = None, password: str | None = None,
                 principal: Principal | None = None) -> StaffAccount:
    """A new account; without a password it can sign in only through the city's SSO."""
    username = normalise_username(username)
    if not USERNAME.fullmatch(username):
        raise ApiError(Reason.VALIDATION_FAILED, "a username is 2-64 of a-z, 0-9, '.', '_', "
                       "'-', starting with a letter or digit", 400)
    if role not in STAFF_ROLES:
        raise ApiError(Reason.VALIDATION_FAILED, f"role must be one of {', '.join(STAFF_ROLES)}")
    email = email.strip().lower() if email else None
    _refuse_duplicates(session, username, email)
    password_hash = None
    if password is not None:
        try:
            passwords.check_policy(password, username)
        except passwords.WeakPassword as exc:
            raise ApiError(Reason.PASSWORD_TOO_WEAK, str(exc), 400) from exc
        password_hash = passwords.hash_password(password)
    account = StaffAccount(username=username, role=role, display_name=display_name.strip(),
                           email=email, password_hash=password_hash, enabled=True,
                           token_generation=0)
    session.add(account)
    session.flush()
    events.record(session, action="staff.create", subject_type="staff", subject_id=username,
                  details={"role": role, "password": password is not None,
                           "email": email is not None}, principal=principal)
    return account


def _refuse_duplicates(session: Session, username: str, email: str | None) -> None:
    if session.execute(select(StaffAccount.id).where(StaffAccount.username == username)).first():
        raise ApiError(Reason.DUPLICATE_USERNAME, f"the username {username} is taken", 409)
    if email and session.execute(select(StaffAccount.id).where(
            StaffAccount.email == email)).first():
        raise ApiError(Reason.DUPLICATE_EMAIL, "another account has that e-mail address", 409)


def get_staff(session: Session, username: str, *, for_update: bool = False) -> StaffAccount:
    username = normalise_username(username)
    if not USERNAME.fullmatch(username):
        raise ApiError(Reason.NOT_FOUND, "no such staff account", 404)
    query = select(StaffAccount).where(StaffAccount.username == username)
    if for_update:
        query = query.with_for_update()
    account = session.execute(query).scalar_one_or_none()
    if account is None:
        raise ApiError(Reason.NOT_FOUND, "no such staff account", 404)
    return account


def list_staff(session: Session, role: str | None = None,
               enabled: bool | None = None) -> list[StaffAccount]:
    query = select(StaffAccount).order_by(StaffAccount.username)
    if role is not None:
        query = query.where(StaffAccount.role == role)
    if enabled is not None:
        query = query.where(StaffAccount.enabled.is_(enabled))
    return list(session.execute(query).scalars())


def set_staff_enabled(session: Session, username: str, enabled: bool,
                      principal: Principal | None = None) -> StaffAccount:
    """Disabling takes effect on the account's next request: its tokens die with it."""
    account = get_staff(session, username, for_update=True)
    if account.enabled == enabled:
        return account
    if not enabled and account.role == "admin" and _enabled_admins(session) <= 1:
        raise ApiError(Reason.LAST_ADMIN, "this is the last enabled admin account", 409)
    account.enabled = enabled
    account.token_generation += 1
    account.updated_at = ratelimit.utcnow()
    events.record(session, action="staff.enable" if enabled else "staff.disable",
                  subject_type="staff", subject_id=account.username, principal=principal)
    return account


def _enabled_admins(session: Session) -> int:
    """Locks the enabled admins' rows, so two admins cannot disable each other at once."""
    rows = session.execute(select(StaffAccount.id).where(
        StaffAccount.role == "admin", StaffAccount.enabled.is_(True)).with_for_update())
    return len(rows.all())


def unlock_staff(session: Session, username: str,
                 principal: Principal | None = None) -> StaffAccount:
    """Lift sign-in locks and the account-wide hold (see `ratelimit`)."""
    account = get_staff(session, username)
    cleared = ratelimit.unlock(session, ratelimit.STAFF_REALM, account.username)
    events.record(session, action="staff.unlock", subject_type="staff",
                  subject_id=account.username, details={"counters": cleared},
                  principal=principal)
    return account


def end_staff_tokens(session: Session, account_id: int) -> None:
    """Sign out everywhere: every token issued so far stops working."""
    session.execute(update(StaffAccount).where(StaffAccount.id == account_id).values(
        token_generation=StaffAccount.token_generation + 1))


# --- terminals ---------------------------------------------------------------------

def create_terminal(session: Session, *, kind: str, name: str,
                    principal: Principal | None = None,
                    category: str | None = None) -> tuple[Terminal, str]:
    """Register a terminal; the client secret is returned here, once, and stored hashed.

    `category` is an agent shop's (purse rules say which categories redeem a purse);
    only agents have one, since only agents redeem purses for goods."""
    if kind not in TERMINAL_KINDS:
        raise ApiError(Reason.VALIDATION_FAILED,
                       f"kind must be one of {', '.join(TERMINAL_KINDS)}", 400)
    name = name.strip()
    if not name:
        raise ApiError(Reason.VALIDATION_FAILED, "a terminal needs a name", 400)
    if category is not None:
        if kind != "agent":
            raise ApiError(Reason.VALIDATION_FAILED, "only an agent terminal has a category",
                           400)
        if not TERMINAL_CATEGORY.fullmatch(category):
            raise ApiError(Reason.VALIDATION_FAILED, "a category is 1-40 lowercase letters, "
                           "digits, - or _", 400)
    secret = secrets.token_urlsafe(32)
    terminal = Terminal(id=f"{kind}-{secrets.token_hex(5)}", kind=kind, name=name,
                        category=category,
                        client_id=f"tc_{secrets.token_hex(12)}", secret_hash=secret_digest(secret),
                        enabled=True, token_generation=0)
    session.add(terminal)
    session.flush()
    events.record(session, action="terminal.register", subject_type="terminal",
                  subject_id=terminal.id, details={"kind": kind, "name": name,
                                                   "category": category,
                                                   "client_id": terminal.client_id},
                  principal=principal)
    return terminal, secret


def get_terminal(session: Session, terminal_id: str) -> Terminal:
    if not TERMINAL_ID.fullmatch(terminal_id):
        raise ApiError(Reason.NOT_FOUND, "no such terminal", 404)
    terminal = session.get(Terminal, terminal_id)
    if terminal is None:
        raise ApiError(Reason.NOT_FOUND, "no such terminal", 404)
    return terminal


def list_terminals(session: Session, kind: str | None = None,
                   enabled: bool | None = None) -> list[Terminal]:
    query = select(Terminal).order_by(Terminal.kind, Terminal.name, Terminal.id)
    if kind is not None:
        query = query.where(Terminal.kind == kind)
    if enabled is not None:
        query = query.where(Terminal.enabled.is_(enabled))
    return list(session.execute(query).scalars())


def set_terminal_enabled(session: Session, terminal_id: str, enabled: bool,
                         principal: Principal | None = None) -> Terminal:
    """Disabling refuses the terminal's very next request, whatever token it holds; a
    card challenge, which opens nothing, from when each hub process hears of the change
    (milliseconds: `terminal_rows`)."""
    terminal = get_terminal(session, terminal_id)
    if terminal.enabled == enabled:
        return terminal
    terminal.enabled = enabled
    terminal.token_generation += 1
    terminal.updated_at = ratelimit.utcnow()
    events.record(session, action="terminal.enable" if enabled else "terminal.disable",
                  subject_type="terminal", subject_id=terminal.id, principal=principal)
    return terminal


def rotate_terminal_secret(session: Session, terminal_id: str,
                           principal: Principal | None = None) -> tuple[Terminal, str]:
    """A new client secret; the old one and every token it fetched stop working."""
    terminal = get_terminal(session, terminal_id)
    secret = secrets.token_urlsafe(32)
    terminal.secret_hash = secret_digest(secret)
    terminal.token_generation += 1
    terminal.updated_at = ratelimit.utcnow()
    events.record(session, action="terminal.rotate_secret", subject_type="terminal",
                  subject_id=terminal.id, principal=principal)
    return terminal, secret


def touch_terminal(session: Session, terminal_id: str, at: dt.datetime) -> None:
    session.execute(update(Terminal).where(Terminal.id == terminal_id).values(last_token_at=at))
