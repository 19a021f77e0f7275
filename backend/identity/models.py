"""Staff accounts, registered terminals, and the sign-in failure counters.

Staff and terminals are identities of the hub itself (DESIGN.md, "Staff and
terminals"): the screens and the reader daemon sign in as one of these, never with
credentials of their own. `token_generation` lets the hub kill every token of one
identity at once (sign out everywhere, new secret) without keeping a token list:
the resolver reads the row on every request anyway.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Integer,
    String,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.auth.principal import STAFF_ROLES, TERMINAL_KINDS
from backend.db import Base


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _now_column() -> Mapped[dt.datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.current_timestamp())


class StaffAccount(Base):
    """A person working for the city: a local password, a link to the city's SSO, or both."""

    __tablename__ = "staff_accounts"
    __table_args__ = (CheckConstraint(_in("role", STAFF_ROLES), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    # Lower-cased; the SSO links an account by a verified e-mail only once, then by `sub`.
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    # argon2id; NULL for an account that signs in through the city's SSO only.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    oidc_subject: Mapped[str | None] = mapped_column(String(255), unique=True)
    # Optional second factor (backend/identity/totp.py): the TOTP secret sealed under a
    # key derived from SECRET_KEY, and the last time step whose code was accepted.
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    token_generation: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = _now_column()
    updated_at: Mapped[dt.datetime] = _now_column()
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Terminal(Base):
    """A kiosk, counter, agent device or gate: an OAuth2 confidential client of the hub.

    The secret is 256 random bits, so a SHA-256 digest is enough to keep it from a
    database reader; a memory-hard hash would only slow down every token request.
    """

    __tablename__ = "terminals"
    __table_args__ = (CheckConstraint(_in("kind", TERMINAL_KINDS), name="kind"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    # An agent shop's category (e.g. "e-warong"): which purses it may redeem is the
    # purse's `agent_categories` rule (backend/services/purse_rules.py). None: in none.
    category: Mapped[str | None] = mapped_column(String(40))
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    token_generation: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = _now_column()
    updated_at: Mapped[dt.datetime] = _now_column()
    last_token_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class AuthThrottle(Base):
    """Failed sign-ins per (realm, account, source); `*` stands for "any".

    Three kinds of row (see `backend.identity.ratelimit`): a pair (account, source),
    a source over all accounts (account `*`), an account over all sources (source `*`).
    """

    __tablename__ = "auth_throttle"

    realm: Mapped[str] = mapped_column(String(16), primary_key=True)
    account: Mapped[str] = mapped_column(String(255), primary_key=True)
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # An account-wide hold, lifted only by an admin; sources that signed in before pass it.
    held: Mapped[bool] = mapped_column(Boolean, default=False)
    last_failure_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_success_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
