"""Identity endpoints: sign-in for staff and terminals, who am I, staff and terminal admin."""

from __future__ import annotations

from flask import Response, request

from backend.api.routing import Api
from backend.auth.principal import (
    PUBLIC,
    STAFF_ROLES,
    TERMINAL_KINDS,
    Requirement,
    current_principal,
)
from backend.db import session
from backend.identity import accounts, oauth, oidc, signin
from backend.identity.models import Terminal
from backend.identity.schemas import (
    LoginBody,
    OAuthError,
    StaffCreate,
    StaffList,
    StaffOut,
    StaffQuery,
    StaffToken,
    TerminalCreate,
    TerminalCredentials,
    TerminalList,
    TerminalOut,
    TerminalQuery,
    TerminalToken,
    TerminalTokenForm,
    WhoAmI,
)
from backend.reasons import Reason as R

api = Api("identity", tag="identity")

ADMIN = Requirement(roles=("admin",))
READERS = Requirement(roles=("admin", "auditor"))
STAFF = Requirement(roles=STAFF_ROLES)
ANYONE_SIGNED_IN = Requirement(roles=STAFF_ROLES, terminal_kinds=TERMINAL_KINDS)
SIGN_IN_REFUSALS = (R.INVALID_CREDENTIALS, R.RATE_LIMITED, R.ACCOUNT_LOCKED,
                    R.ACCOUNT_DISABLED, R.TOTP_REQUIRED, R.TOTP_INVALID)


def _token(signed: signin.SignedIn) -> StaffToken:
    return StaffToken(access_token=signed.issued.token, expires_in=signed.issued.expires_in,
                      scope=signed.issued.scope, username=signed.username, role=signed.role)


# --- sign-in ---------------------------------------------------------------------

@api.route("/auth/staff/login", "POST", summary="Staff sign-in with a local password",
           auth=PUBLIC, body=LoginBody, response=StaffToken, reasons=SIGN_IN_REFUSALS)
def staff_login(body: LoginBody) -> StaffToken:
    """Returns a short-lived bearer token. Failures are throttled per (account, address)
    pair, per address, and per account with a hold only an admin lifts; addresses where
    the account signed in before are never locked by failures elsewhere. An account with
    TOTP also needs `totp`, its current 6-digit code (each code is good once); a missing
    or wrong code counts as a failed try."""
    return _token(signin.password_login(body.username, body.password, request.remote_addr,
                                        totp_code=body.totp))


@api.route("/auth/staff/logout", "POST", summary="Sign out everywhere", auth=STAFF,
           status=204)
def staff_logout() -> None:
    """Every token of the calling staff account stops working at once."""
    principal = current_principal()
    assert principal is not None
    account = accounts.get_staff(session(), principal.subject)
    accounts.end_staff_tokens(session(), account.id)


@api.route("/auth/whoami", summary="The identity behind the bearer token",
           auth=ANYONE_SIGNED_IN, response=WhoAmI)
def whoami() -> WhoAmI:
    principal = current_principal()
    assert principal is not None
    card = principal.card
    return WhoAmI(kind=principal.kind, subject=principal.subject, role=principal.role,
                  terminal_id=principal.terminal_id, scopes=sorted(principal.scopes),
                  card_serial=card.card_serial if card else None,
                  assurance=card.assurance if card else None)


@api.route("/oauth/token", "POST", summary="Terminal token (OAuth2 client credentials)",
           auth=PUBLIC, response=TerminalToken, errors=OAuthError,
           doc_body=TerminalTokenForm, doc_body_type="application/x-www-form-urlencoded",
           reasons=(R.INVALID_CLIENT, R.INVALID_SCOPE, R.UNSUPPORTED_GRANT_TYPE,
                    R.INVALID_REQUEST, R.RATE_LIMITED, R.TERMINAL_DISABLED,
                    R.INSECURE_TRANSPORT))
def oauth_token() -> Response:
    """Form-encoded (RFC 6749 section 4.4): grant_type=client_credentials, optional
    scope (the terminal's kind), client credentials by HTTP Basic or in the form.
    Errors follow RFC 6749 section 5.2 (`error` is a string) and add `reason` and
    `message` beside it."""
    return oauth.token_response()


@api.route("/auth/oidc/login", summary="Staff single sign-on: go to the city's provider",
           auth=PUBLIC, status=302, reasons=(R.SSO_DISABLED, R.SSO_FAILED))
def oidc_login() -> Response:
    return oidc.login_redirect()


@api.route("/auth/oidc/callback", summary="Staff single sign-on: back from the provider",
           auth=PUBLIC, response=StaffToken,
           reasons=(R.SSO_DISABLED, R.SSO_FAILED, R.SSO_NO_ACCOUNT, R.ACCOUNT_DISABLED))
def oidc_callback() -> StaffToken:
    """Exchanges the code, verifies the ID token, and signs in the staff account linked
    to its `sub` (or, the first time, to its verified e-mail address)."""
    return _token(signin.sso_login(oidc.verified_claims()))


# --- staff accounts ----------------------------------------------------------------

@api.route("/staff", summary="List staff accounts", auth=READERS, query=StaffQuery,
           response=StaffList)
def list_staff(query: StaffQuery) -> StaffList:
    found = accounts.list_staff(session(), query.role, query.enabled)
    return StaffList(items=[StaffOut.of(a) for a in found])


@api.route("/staff", "POST", summary="Create a staff account", auth=ADMIN, body=StaffCreate,
           response=StaffOut, status=201,
           reasons=(R.DUPLICATE_USERNAME, R.DUPLICATE_EMAIL, R.PASSWORD_TOO_WEAK))
def create_staff(body: StaffCreate) -> tuple[StaffOut, int]:
    account = accounts.create_staff(session(), username=body.username, role=body.role,
                                    display_name=body.display_name, email=body.email,
                                    password=body.password)
    return StaffOut.of(account), 201


@api.route("/staff/<username>", summary="One staff account", auth=READERS, response=StaffOut)
def get_staff(username: str) -> StaffOut:
    return StaffOut.of(accounts.get_staff(session(), username))


@api.route("/staff/<username>/disable", "POST", summary="Disable a staff account",
           auth=ADMIN, response=StaffOut, reasons=(R.LAST_ADMIN,))
def disable_staff(username: str) -> StaffOut:
    """Its tokens stop working on their next request."""
    return StaffOut.of(accounts.set_staff_enabled(session(), username, False))


@api.route("/staff/<username>/enable", "POST", summary="Enable a staff account", auth=ADMIN,
           response=StaffOut)
def enable_staff(username: str) -> StaffOut:
    return StaffOut.of(accounts.set_staff_enabled(session(), username, True))


@api.route("/staff/<username>/unlock", "POST", summary="Lift sign-in locks and the hold",
           auth=ADMIN, response=StaffOut)
def unlock_staff(username: str) -> StaffOut:
    return StaffOut.of(accounts.unlock_staff(session(), username))


# --- terminals ---------------------------------------------------------------------

@api.route("/terminals", summary="List registered terminals", auth=READERS,
           query=TerminalQuery, response=TerminalList)
def list_terminals(query: TerminalQuery) -> TerminalList:
    found = accounts.list_terminals(session(), query.kind, query.enabled)
    return TerminalList(items=[TerminalOut.of(t) for t in found])


@api.route("/terminals", "POST", summary="Register a terminal", auth=ADMIN,
           body=TerminalCreate, response=TerminalCredentials, status=201)
def register_terminal(body: TerminalCreate) -> tuple[TerminalCredentials, int]:
    """The client secret is in this answer only; the hub keeps its hash."""
    terminal, secret = accounts.create_terminal(session(), kind=body.kind, name=body.name,
                                                category=body.category)
    return _credentials(terminal, secret), 201


@api.route("/terminals/<terminal_id>", summary="One terminal", auth=READERS,
           response=TerminalOut)
def get_terminal(terminal_id: str) -> TerminalOut:
    return TerminalOut.of(accounts.get_terminal(session(), terminal_id))


@api.route("/terminals/<terminal_id>/disable", "POST", summary="Disable a terminal",
           auth=ADMIN, response=TerminalOut)
def disable_terminal(terminal_id: str) -> TerminalOut:
    """Refused on its very next request, whatever token it holds; a card challenge,
    which opens nothing, from when each hub process hears of the change (milliseconds)."""
    return TerminalOut.of(accounts.set_terminal_enabled(session(), terminal_id, False))


@api.route("/terminals/<terminal_id>/enable", "POST", summary="Enable a terminal",
           auth=ADMIN, response=TerminalOut)
def enable_terminal(terminal_id: str) -> TerminalOut:
    return TerminalOut.of(accounts.set_terminal_enabled(session(), terminal_id, True))


@api.route("/terminals/<terminal_id>/secret", "POST", summary="Replace a terminal's secret",
           auth=ADMIN, response=TerminalCredentials)
def rotate_terminal_secret(terminal_id: str) -> TerminalCredentials:
    """The old secret and every token fetched with it stop working."""
    terminal, secret = accounts.rotate_terminal_secret(session(), terminal_id)
    return _credentials(terminal, secret)


def _credentials(terminal: Terminal, secret: str) -> TerminalCredentials:
    return TerminalCredentials.model_validate(
        {**TerminalOut.fields_of(terminal), "client_secret": secret, "scope": terminal.kind})
