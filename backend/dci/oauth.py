"""`POST /dci/oauth2/client/token`: a peer's access token, by OAuth2 client credentials.

The terminals' token endpoint (`backend.identity.oauth`) with another kind of client:
the same client and grant base (`SecretClient`, `SecretCredentialsGrant`), Authlib
server class and RFC 6749 error shape, the same reading of the credentials (Basic or
form), the same sign-in throttle (realm `peer`), the same signed token (kind `peer`,
its scopes those asked). Asking for a scope the peer does not hold is `invalid_scope`;
asking for none gets all of its own. What a request's answers carry is its token's
scopes within the peer's current ones (`peers.granted`).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from authlib.common.security import is_secure_transport
from authlib.oauth2.rfc6749.errors import InvalidClientError, InvalidScopeError
from flask import Flask, Response, request
from sqlalchemy.orm import Session

from backend.db import database, session
from backend.dci import peers
from backend.dci.models import DciPeer
from backend.errors import ApiError
from backend.identity import events, ratelimit
from backend.identity.oauth import (
    GRANT_TYPE,
    HubAuthorizationServer,
    OAuthApiError,
    SecretClient,
    SecretCredentialsGrant,
    claimed_credentials,
)
from backend.reasons import Reason

REALM = "peer"
EXTENSION = "satukartu.dci.oauth"


class PeerDisabled(InvalidClientError):
    reason = Reason.INVALID_CLIENT


class PeerClient(SecretClient):
    """A peer row as Authlib sees a client (the terminals' kind of client)."""

    def __init__(self, peer: DciPeer) -> None:
        super().__init__(peer.client_id, peer.secret_hash, peer.enabled)
        self.peer = peer

    def get_allowed_scope(self, scope: Collection[str] | str) -> str:
        asked = set(scope.split() if isinstance(scope, str) else scope)
        held = self.peer.scope.split()
        return " ".join(s for s in held if s in asked) if asked else self.peer.scope


class PeerCredentialsGrant(SecretCredentialsGrant):
    disabled = PeerDisabled
    disabled_description = "This peer is disabled."

    def validate_requested_scope(self) -> None:
        payload, client = self.request.payload, self.request.client
        assert payload is not None and isinstance(client, PeerClient)
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
