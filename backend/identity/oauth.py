"""Terminals sign in with OAuth2 client credentials (RFC 6749 section 4.4), via Authlib.

`POST /api/v1/oauth/token`, form-encoded, the client authenticated with HTTP Basic
(`client_secret_basic`, what Authlib's client sends) or in the body
(`client_secret_post`). The scope is the terminal's kind; asking for nothing gets
it, asking for anything else is `invalid_scope`.

Errors keep RFC 6749's shape, which every OAuth2 client parses, and add our reason:

    {"error": "invalid_client", "error_description": "...",
     "reason": "invalid_client", "message": "..."}

Our usual `{"error": {"reason": ...}}` cannot be used here because RFC 6749 already
defines `error` as a string; `reason` (one of backend.reasons.Reason) sits beside it.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Collection
from enum import StrEnum
from typing import Any
from urllib.parse import unquote

from authlib.common.security import is_secure_transport
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc6749.errors import InvalidClientError, InvalidScopeError, OAuth2Error
from flask import Flask, Response, current_app, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.auth.principal import Principal
from backend.db import database, session
from backend.errors import ApiError
from backend.identity import accounts, events, ratelimit, tokens
from backend.identity.models import Terminal
from backend.identity.resolver import EXTENSION
from backend.reasons import Reason

GRANT_TYPE = "client_credentials"
# Wider than the ids we issue (tc_ + 24 hex), narrow enough to store and compare safely.
CLIENT_ID = re.compile(r"^[A-Za-z0-9._~-]{1,64}$")
_REASONS = {
    "invalid_request": Reason.INVALID_REQUEST,
    "invalid_client": Reason.INVALID_CLIENT,
    "unauthorized_client": Reason.INVALID_CLIENT,
    "invalid_grant": Reason.INVALID_REQUEST,
    "unsupported_grant_type": Reason.UNSUPPORTED_GRANT_TYPE,
    "invalid_scope": Reason.INVALID_SCOPE,
    "insecure_transport": Reason.INSECURE_TRANSPORT,
}
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthApiError(ApiError):
    """A token-endpoint refusal: RFC 6749's body plus our reason (see the module doc)."""

    def __init__(self, reason: Reason | StrEnum, oauth_error: str, message: str, status: int,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(reason, message, status, headers={**_NO_STORE, **(headers or {})})
        self.oauth_error = oauth_error

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.oauth_error, "error_description": self.message,
                "reason": self.reason.value, "message": self.message}


class TerminalDisabled(InvalidClientError):
    reason = Reason.TERMINAL_DISABLED


class SecretClient(ClientMixin):
    """A confidential client of the client credentials grant only, proven by a secret
    kept as its SHA-256 digest: a terminal, an SPDCI peer (`backend.dci.oauth`). A
    subclass says whose row it is, whether it is enabled and what scope it may hold."""

    AUTH_METHODS = ("client_secret_basic", "client_secret_post")

    def __init__(self, client_id: str, secret_hash: str, enabled: bool) -> None:
        self.client_id = client_id
        self.secret_hash = secret_hash
        self.enabled = enabled

    def get_client_id(self) -> str:
        return self.client_id

    # No redirect URI: the client credentials grant never asks for one. The stubs type the
    # answer str, where Authlib takes None for none.
    def get_default_redirect_uri(self) -> None:  # type: ignore[override]
        return None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(accounts.secret_digest(client_secret), self.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in self.AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == GRANT_TYPE


class SecretCredentialsGrant(grants.ClientCredentialsGrant):
    """The grant for a `SecretClient`: a disabled client is refused with `disabled` (its
    status 401 for Basic credentials, 400 for form ones, as RFC 6749 says), then the
    scope asked is judged (`validate_requested_scope`, per kind of client)."""

    TOKEN_ENDPOINT_AUTH_METHODS = list(SecretClient.AUTH_METHODS)
    disabled: type[InvalidClientError] = InvalidClientError
    disabled_description = "This client is disabled."

    def validate_token_request(self) -> None:
        client = self.authenticate_token_endpoint_client()
        assert isinstance(client, SecretClient)  # each server's `query_client` makes them
        if not client.enabled:
            raise self.disabled(description=self.disabled_description,
                                status_code=_client_error_status(self.request))
        self.request.client = client
        self.validate_requested_scope()


class TerminalClient(SecretClient):
    """A terminal row as Authlib sees a client."""

    def __init__(self, terminal: Terminal) -> None:
        super().__init__(terminal.client_id, terminal.secret_hash, terminal.enabled)
        self.terminal = terminal

    def get_allowed_scope(self, scope: Collection[str] | str) -> str:
        return self.terminal.kind


class TerminalCredentialsGrant(SecretCredentialsGrant):
    disabled = TerminalDisabled
    disabled_description = "This terminal is disabled."

    def validate_requested_scope(self) -> None:
        payload, client = self.request.payload, self.request.client
        # Authlib reads the payload before it picks the grant; the client is set above.
        assert payload is not None and isinstance(client, TerminalClient)
        asked = set((payload.scope or "").split())
        if asked and asked != {client.terminal.kind}:
            raise InvalidScopeError(description="A terminal's scope is its kind.")


class HubAuthorizationServer(AuthorizationServer):
    def handle_error_response(self, req: Any, error: OAuth2Error) -> Response:
        status, body, headers = error(self.get_error_uri(req, error))
        fields = dict(body)
        reason = getattr(error, "reason", None) or _REASONS.get(error.error or "",
                                                                Reason.INVALID_REQUEST)
        message = fields.get("error_description", "")
        if reason == Reason.INVALID_CLIENT:
            message = "client authentication failed"  # the same for unknown id and bad secret
        headers = [(k, v) for k, v in headers if k.lower() != "www-authenticate"]
        if status == 401:
            headers.append(("WWW-Authenticate", 'Basic realm="satukartu"'))
        raise OAuthApiError(reason, fields["error"], message, status, dict(headers))


def make_server(app: Flask) -> HubAuthorizationServer:
    server = HubAuthorizationServer()
    server.init_app(app, query_client=_query_client, save_token=_save_token)
    server.register_grant(TerminalCredentialsGrant)
    # Authlib takes any callable of this shape; the stubs ask for its BearerTokenGenerator.
    server.register_token_generator("default", _generate_token)  # type: ignore[arg-type]
    return server


def token_response() -> Response:
    """Answer one token request: throttle, authenticate, issue, audit.

    The try is counted (ratelimit.reserve) and the secret checked in one short
    transaction; a right secret gives its try back (ratelimit.settle_success) in that
    same transaction, before anyone else can see the count. Concurrent tries of one
    terminal from one address take turns on the counter's row, so a burst of right
    sign-ins (a terminal restarting its workers, a shop's network at opening time)
    never looks like failures, and a burst of wrong ones is judged one by one: no more
    guesses get an answer than in a sequence. The secret is a SHA-256 digest compare,
    cheap enough to hold the row that long (a staff password's argon2 is not: there the
    give-back comes after, in the request's transaction).
    """
    server: HubAuthorizationServer = current_app.extensions[EXTENSION].oauth
    if not is_secure_transport(request.url):
        raise OAuthApiError(Reason.INSECURE_TRANSPORT, "invalid_request",
                            "the token endpoint needs HTTPS", 400)
    if request.values.get("grant_type") != GRANT_TYPE:
        # Authlib names what is wrong with the grant. The Flask server answers a Response;
        # the stubs give the base class's (status, body, headers).
        return server.create_token_response()  # type: ignore[return-value]
    client_id, secret = claimed_credentials()
    key = ratelimit.Key(ratelimit.TERMINAL_REALM, client_id,
                        ratelimit.source_key(request.remote_addr))
    with database().transaction() as counting:
        try:
            ratelimit.reserve(counting, key, ratelimit.TERMINAL_POLICY)
        except ApiError as refusal:
            locked = OAuthApiError(refusal.reason, "invalid_client", refusal.message,
                                   refusal.status, refusal.headers)
            locked.details = {"client_id": key.account}
            raise locked from refusal
        if _secret_is_right(counting, client_id, secret):
            # Not a guess (even with a bad scope or a disabled terminal): give it back.
            ratelimit.settle_success(counting, key, ratelimit.TERMINAL_POLICY)
    try:
        return server.create_token_response()  # type: ignore[return-value]  # as above
    except OAuthApiError as error:
        error.details = {"client_id": key.account}  # for the audit record, not the client
        raise


def claimed_credentials() -> tuple[str, str | None]:
    """The client id the request claims, checked for shape, and the secret it offers,
    from Basic auth or the form (read as Authlib reads them). Also the SPDCI peers'
    token endpoint's (backend.dci.oauth)."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    posted = request.form.get("client_id")
    if scheme.lower() == "basic":
        if posted or request.form.get("client_secret"):
            raise _invalid_request("use one way of client authentication, not two")
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise _invalid_request("the Basic credentials are not valid base64 UTF-8") from exc
        client_id, colon, offered = decoded.partition(":")
        client_id = unquote(client_id)
        secret = unquote(offered) if colon else None
    else:
        client_id = posted or ""
        secret = request.form.get("client_secret")
    if not CLIENT_ID.fullmatch(client_id):  # no lookup, no counter for what cannot exist
        raise OAuthApiError(Reason.INVALID_CLIENT, "invalid_client",
                            "client authentication failed", 401,
                            {"WWW-Authenticate": 'Basic realm="satukartu"'})
    return client_id, secret


def _secret_is_right(counting: Session, client_id: str, secret: str | None) -> bool:
    """The check Authlib makes next, made here while the try's count is held."""
    terminal = counting.execute(select(Terminal).where(
        Terminal.client_id == client_id)).scalar_one_or_none()
    if not secret or terminal is None:
        return False
    return TerminalClient(terminal).check_client_secret(secret)


def _invalid_request(message: str) -> OAuthApiError:
    return OAuthApiError(Reason.INVALID_REQUEST, "invalid_request", message, 400)


def _client_error_status(req: Any) -> int:
    return 401 if getattr(req, "auth_method", None) == "client_secret_basic" else 400


def _query_client(client_id: str) -> TerminalClient | None:
    terminal = session().execute(select(Terminal).where(
        Terminal.client_id == client_id)).scalar_one_or_none()
    return TerminalClient(terminal) if terminal is not None else None


def _generate_token(grant_type: str, client: TerminalClient, user: Any = None,
                    scope: str | None = None, expires_in: int | None = None,
                    include_refresh_token: bool = False) -> dict[str, Any]:
    state = current_app.extensions[EXTENSION]
    terminal = client.terminal
    issued = tokens.issue(state.key, kind="terminal", subject=terminal.id,
                          account_id=terminal.id, role=terminal.kind,
                          generation=terminal.token_generation, ttl=state.ttl)
    return {"token_type": "Bearer", "access_token": issued.token,
            "expires_in": issued.expires_in, "scope": issued.scope,
            "terminal_id": terminal.id}


def _save_token(token: dict[str, Any], req: Any) -> None:
    """No token table: the JWT is self-contained. Record the sign-in (the throttle was
    settled when the secret was checked, see token_response)."""
    terminal = req.client.terminal
    accounts.touch_terminal(session(), terminal.id, ratelimit.utcnow())
    events.record(session(), action="terminal.token", subject_type="terminal",
                  subject_id=terminal.id, details={"kind": terminal.kind},
                  principal=Principal(kind="terminal", subject=terminal.id, role=terminal.kind,
                                      terminal_id=terminal.id,
                                      scopes=frozenset({terminal.kind})))
