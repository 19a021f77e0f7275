"""Request and response bodies of the identity endpoints (they make the OpenAPI document)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from backend.api.routing import OutModel, StrictModel
from backend.identity.models import StaffAccount, Terminal
from backend.reasons import Reason

# Text that is stored or looked up: no control characters (PostgreSQL refuses NUL).
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"

Role = Literal["admin", "clerk", "agent", "auditor"]
Kind = Literal["kiosk", "counter", "agent", "gate", "desk"]


class LoginBody(StrictModel):
    username: str = Field(min_length=1, max_length=64, pattern=PRINTABLE)
    password: str = Field(min_length=1, max_length=256)
    totp: str | None = Field(default=None, max_length=16, pattern=PRINTABLE,
                             description="the 6-digit one-time code, for an account with "
                                         "TOTP (without it: `totp_required`)")


class StaffToken(OutModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int
    scope: str
    username: str
    role: str


class TerminalTokenForm(StrictModel):
    """The token request's form fields (RFC 6749 section 4.4; client_secret_post puts
    the client's credentials here instead of in HTTP Basic)."""

    grant_type: Literal["client_credentials"]
    scope: str = Field("", description="the terminal's kind; empty asks for it")
    client_id: str = ""
    client_secret: str = ""


class TerminalToken(OutModel):
    """RFC 6749 section 5.1, plus the terminal's id."""

    access_token: str
    token_type: str
    expires_in: int
    scope: str
    terminal_id: str


class OAuthError(OutModel):
    """RFC 6749 section 5.2 (`error` is a string there), with the hub's reason beside it."""

    error: str
    error_description: str
    reason: Reason
    message: str


class WhoAmI(OutModel):
    kind: str
    subject: str
    role: str | None
    terminal_id: str | None
    scopes: list[str]
    card_serial: str | None = None
    assurance: str | None = None


class StaffCreate(StrictModel):
    username: str = Field(min_length=2, max_length=64, pattern=PRINTABLE)
    role: Role
    display_name: str = Field(default="", max_length=200, pattern=PRINTABLE)
    email: str | None = Field(default=None, max_length=254,
                              pattern=r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+"
                                      r"\.[^@\s\x00-\x1f\x7f]+$")
    # Omitted: the account signs in only through the city's SSO.
    password: str | None = Field(default=None, max_length=256)


class StaffQuery(StrictModel):
    role: Role | None = None
    enabled: bool | None = None


class StaffOut(OutModel):
    username: str
    display_name: str
    email: str | None
    role: str
    enabled: bool
    has_password: bool
    sso_linked: bool
    totp_enabled: bool = False
    created_at: dt.datetime | None
    last_login_at: dt.datetime | None

    @classmethod
    def of(cls, account: StaffAccount) -> StaffOut:
        return cls(username=account.username, display_name=account.display_name,
                   email=account.email, role=account.role, enabled=account.enabled,
                   has_password=account.password_hash is not None,
                   sso_linked=account.oidc_subject is not None,
                   totp_enabled=account.totp_secret is not None,
                   created_at=account.created_at, last_login_at=account.last_login_at)


class StaffList(OutModel):
    items: list[StaffOut]


class TerminalCreate(StrictModel):
    kind: Kind
    name: str = Field(min_length=1, max_length=200, pattern=PRINTABLE)
    category: str | None = Field(None, min_length=1, max_length=40,
                                 pattern=r"^[a-z0-9][a-z0-9_-]*$",
                                 description="an agent shop's category (e.g. e-warong), "
                                 "which purse rules' agent_categories name")


class TerminalQuery(StrictModel):
    kind: Kind | None = None
    enabled: bool | None = None


class TerminalOut(OutModel):
    terminal_id: str
    kind: str
    name: str
    category: str | None = None
    client_id: str
    enabled: bool
    created_at: dt.datetime | None
    last_token_at: dt.datetime | None

    @classmethod
    def fields_of(cls, terminal: Terminal) -> dict[str, object]:
        return {"terminal_id": terminal.id, "kind": terminal.kind, "name": terminal.name,
                "category": terminal.category, "client_id": terminal.client_id,
                "enabled": terminal.enabled,
                "created_at": terminal.created_at, "last_token_at": terminal.last_token_at}

    @classmethod
    def of(cls, terminal: Terminal) -> TerminalOut:
        return cls(**cls.fields_of(terminal))


class TerminalCredentials(TerminalOut):
    """Shown once, at registration or when the secret is replaced; the hub keeps a hash."""

    client_secret: str
    scope: str
    token_endpoint: str = "/api/v1/oauth/token"


class TerminalList(OutModel):
    items: list[TerminalOut]
