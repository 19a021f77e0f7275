"""SPDCI peers: registering them, and telling which peer a request comes from.

A peer proves itself twice on every message: its bearer token (OAuth2 client
credentials at `/dci/oauth2/client/token`, `backend.dci.oauth`) says which peer is
calling, and its signature (a key of its registered JWKS) says the message is the one
it sent. The header's `sender_id` must be that same peer.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from flask import current_app, g
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.auth.principal import Principal
from backend.dci import jwks
from backend.dci.envelope import EnvelopeError, ErrorCode
from backend.dci.mapping import SCOPES, Scope
from backend.dci.models import DciPeer
from backend.identity import accounts, events, tokens
from backend.identity.resolver import EXTENSION

SENDER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,98}$")
ROLE = "dci"


class PeerError(ValueError):
    """A peer cannot be registered as given; the message says why."""


def principal(peer: DciPeer) -> Principal:
    """The peer as the audit log names it."""
    return Principal(kind="peer", subject=peer.sender_id, role=ROLE,
                     scopes=frozenset(peer.scope.split()))


def add(sess: Session, *, sender_id: str, name: str, callback_uri: str, scope: str,
        jwks_document: str, by: Principal | None = None) -> tuple[DciPeer, str]:
    """Register a peer; its client secret is returned here, once, and stored hashed."""
    if not SENDER_ID.fullmatch(sender_id):
        raise PeerError("a sender id is 1-99 letters, digits, '.', '_', ':' or '-'")
    if not name.strip():
        raise PeerError("a peer needs a name")
    if not callback_uri.startswith(("https://", "http://")) or len(callback_uri) > 500:
        raise PeerError("the callback URI must be an http(s) URI of at most 500 characters")
    names = scope.split()
    if not names or set(names) - set(SCOPES):
        raise PeerError(f"the scope is one or more of {', '.join(SCOPES)}")
    keys_json = _keys_json(jwks_document)
    if sess.get(DciPeer, sender_id) is not None:
        raise PeerError(f"a peer {sender_id!r} is registered already")
    secret = secrets.token_urlsafe(32)
    peer = DciPeer(sender_id=sender_id, name=name.strip(), callback_uri=callback_uri.rstrip("/"),
                   client_id=f"dci_{secrets.token_hex(12)}",
                   secret_hash=accounts.secret_digest(secret),
                   scope=" ".join(sorted(set(names))),
                   jwks=keys_json,
                   enabled=True, token_generation=0)
    sess.add(peer)
    sess.flush()
    events.record(sess, action="dci.peer.register", subject_type="dci_peer",
                  subject_id=sender_id, details={"name": peer.name, "scope": peer.scope,
                                                 "client_id": peer.client_id,
                                                 "callback_uri": peer.callback_uri},
                  principal=by)
    return peer, secret


def _keys_json(jwks_document: str) -> str:
    try:
        keys = jwks.read(jwks_document)
    except jwks.JwksError as exc:
        raise PeerError(f"the JWKS: {exc}") from exc
    if not keys:
        raise PeerError("the JWKS has no key: the peer's signatures could not be checked")
    return json.dumps(json.loads(jwks_document), sort_keys=True)


def get(sess: Session, sender_id: str) -> DciPeer:
    peer = sess.get(DciPeer, sender_id) if SENDER_ID.fullmatch(sender_id) else None
    if peer is None:
        raise PeerError(f"no peer {sender_id!r} is registered")
    return peer


def set_keys(sess: Session, sender_id: str, jwks_document: str,
             by: Principal | None = None) -> DciPeer:
    """Replace the peer's public keys (it rotated its own): its next message must be
    signed by one of them."""
    peer = get(sess, sender_id)
    peer.jwks = _keys_json(jwks_document)
    events.record(sess, action="dci.peer.keys", subject_type="dci_peer", subject_id=sender_id,
                  details={"kids": sorted(jwks.read(peer.jwks))}, principal=by)
    return peer


def set_enabled(sess: Session, sender_id: str, enabled: bool,
                by: Principal | None = None) -> DciPeer:
    """Disabling also ends every token the peer holds (a new generation)."""
    peer = get(sess, sender_id)
    peer.enabled = enabled
    if not enabled:
        peer.token_generation += 1
    events.record(sess, action="dci.peer.enable" if enabled else "dci.peer.disable",
                  subject_type="dci_peer", subject_id=sender_id, principal=by)
    return peer


def listed(sess: Session) -> list[DciPeer]:
    return list(sess.execute(select(DciPeer).order_by(DciPeer.sender_id)).scalars())


def by_client_id(sess: Session, client_id: str) -> DciPeer | None:
    return sess.execute(select(DciPeer).where(DciPeer.client_id == client_id)
                        ).scalar_one_or_none()


def public_key(peer: DciPeer, sender_id: str, key_id: str) -> Ed25519PublicKey | None:
    """The peer's key a signature names (its registered JWKS)."""
    if sender_id != peer.sender_id:
        return None
    try:
        return jwks.lookup(jwks.read(peer.jwks), sender_id, key_id)
    except jwks.JwksError:
        return None


def issue_token(peer: DciPeer, scope: str | None = None) -> dict[str, Any]:
    """An access token for the peer: the hub's own token, of kind `peer`, for the scopes
    it asked (already checked to be its own) or, asking none, all of its own."""
    state = current_app.extensions[EXTENSION]
    issued = tokens.issue(state.key, kind="peer", subject=peer.sender_id,
                          account_id=peer.sender_id, role=ROLE,
                          generation=peer.token_generation, ttl=state.ttl,
                          scopes=tuple((scope or peer.scope).split()))
    return {"token_type": "Bearer", "access_token": issued.token,
            "expires_in": issued.expires_in, "scope": issued.scope}


def caller(sess: Session, authorization: str) -> DciPeer:
    """The enabled peer whose bearer token this is; EnvelopeError 401 for anything else."""
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise EnvelopeError(ErrorCode.UNAUTHORIZED, "a bearer token is required", 401)
    state = current_app.extensions[EXTENSION]
    try:
        claims = tokens.read(state.key, token)
    except tokens.TokenExpired as exc:
        raise EnvelopeError(ErrorCode.UNAUTHORIZED, "the token has expired; fetch a new "
                            "one", 401) from exc
    if claims is None or claims.kind != "peer":
        raise EnvelopeError(ErrorCode.UNAUTHORIZED, "the bearer token is not valid", 401)
    peer = sess.get(DciPeer, claims.account_id)
    if peer is None or peer.token_generation != claims.generation:
        raise EnvelopeError(ErrorCode.UNAUTHORIZED, "the bearer token is not valid", 401)
    if not peer.enabled:
        raise EnvelopeError(ErrorCode.FORBIDDEN, "this peer is disabled", 403)
    g.dci_token_scope = " ".join(sorted(claims.scopes))
    return peer


def token_scope() -> str | None:
    """The scopes of the request's token (`caller` read it), as text."""
    return g.get("dci_token_scope")


def granted(peer: DciPeer, token_scope: str | None) -> Scope:
    """What answers to the peer may carry: its token's scopes within its own (the peer's
    may have been narrowed since); None (a row older than this rule): its own."""
    own = Scope.of(peer.scope)
    if token_scope is None:
        return own
    return Scope(own.names & frozenset(token_scope.split()))



