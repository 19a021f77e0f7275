"""`POST /dci/oauth2/client/token`: a peer's access token, by OAuth2 client credentials.

The terminals' token endpoint (`backend.identity.oauth`) with another kind of client:
the same Authlib server class and RFC 6749 error shape, the same reading of the
credentials (Basic or form), the same sign-in throttle (realm `peer`), the same signed
token (kind `peer`, its scopes the peer's). Asking for a scope the peer does not hold
is `invalid_scope`; asking for none gets all of its own.
"""

from __future__ import annotations

import hmac
from collections.abc import Collection
from typing import Any

from authlib.common.security import is_secure_transport
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc6749.errors import InvalidClientError, InvalidScopeError
from flask import Flask, Response, request
from sqlalchemy.orm import Session

from backend.db import database, session
from backend.dci import peers
from backend.dci.models import DciPeer
from backend.errors import ApiError
from backend.identity import accounts, events, ratelimit
from backend.identity.oauth import (
    GRANT_TYPE,
    HubAuthorizationServer,
    OAuthApiError,
    claimed_credentials,
)
from backend.reasons import Reason

REALM = "peer"
EXTENSION = "satukartu.dci.oauth"


class PeerDisabled(InvalidClientError):
    reason = Reason.INVALID_CLIENT


class PeerClient(ClientMixin):
    """A peer row as Authlib sees a client: confidential, client credentials only."""

    def __init__(self, peer: DciPeer) -> None:
        self.peer = peer

    def get_client_id(self) -> str:
        return self.peer.client_id

    def get_default_redirect_uri(self) -> None:  # type: ignore[override]  # as terminals'
        return None

    def get_allowed_scope(self, scope: Collection[str] | str) -> str:
        return self.peer.scope

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(accounts.secret_digest(client_secret), self.peer.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in PeerCredentialsGrant.TOKEN_ENDPOINT_AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == GRANT_TYPE


class PeerCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def validate_token_request(self) -> None:
        client = self.authenticate_token_endpoint_client()
        assert isinstance(client, PeerClient)  # `_query_client` makes every client
        if not client.peer.enabled:
            raise PeerDisabled(description="This peer is disabled.")
        self.request.client = client
        payload = self.request.payload
        assert payload is not None
        asked = set((payload.scope or "").split())
        if asked - set(client.peer.scope.split()):
            raise InvalidScopeError(description="The peer does not hold that scope.")


def make_server(app: Flask) -> HubAuthorizationServer:
    server = HubAuthorizationServer()
    server.init_app(app, query_client=_query_client, save_token=_save_token)
    server.register_grant(PeerCredentialsGrant)
    server.register_token_generator("default", _generate_token)  # type: ignore[arg-type]
    app.extensions[EXTENSION] = server
    return server


def token_response(app: Flask) -> Response:
    """One token request: throttled and answered as the terminals' (see the module doc)."""
    server: HubAuthorizationServer = app.extensions[EXTENSION]
    if not is_secure_transport(request.url):
        raise OAuthApiError(Reason.INSECURE_TRANSPORT, "invalid_request",
                            "the token endpoint needs HTTPS", 400)
    if request.values.get("grant_type") != GRANT_TYPE:
        return server.create_token_response()  # type: ignore[return-value]
    client_id, secret = claimed_credentials()
    key = ratelimit.Key(REALM, client_id, ratelimit.source_key(request.remote_addr))
    with database().transaction() as counting:
        try:
            ratelimit.reserve(counting, key, ratelimit.TERMINAL_POLICY)
        except ApiError as refusal:
            raise OAuthApiError(refusal.reason, "invalid_client", refusal.message,
                                refusal.status, refusal.headers) from refusal
        if _secret_is_right(counting, client_id, secret):
            ratelimit.settle_success(counting, key, ratelimit.TERMINAL_POLICY)
    return server.create_token_response()  # type: ignore[return-value]


def _secret_is_right(counting: Session, client_id: str, secret: str | None) -> bool:
    peer = peers.by_client_id(counting, client_id)
    return bool(secret) and peer is not None and PeerClient(peer).check_client_secret(
        secret or "")


def _query_client(client_id: str) -> PeerClient | None:
    peer = peers.by_client_id(session(), client_id)
    return PeerClient(peer) if peer is not None else None


def _generate_token(grant_type: str, client: PeerClient, user: Any = None,
                    scope: str | None = None, expires_in: int | None = None,
                    include_refresh_token: bool = False) -> dict[str, Any]:
    return peers.issue_token(client.peer, scope)


def _save_token(token: dict[str, Any], req: Any) -> None:
    """No token table (the JWT is self-contained): record the sign-in."""
    peer = req.client.peer
    events.record(session(), action="dci.peer.token", subject_type="dci_peer",
                  subject_id=peer.sender_id, details={"scope": peer.scope},
                  principal=peers.principal(peer))
