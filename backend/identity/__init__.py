"""The hub's own identities: staff accounts and registered terminals.

Staff sign in with a local password (`POST /api/v1/auth/staff/login`) or through the
city's OIDC provider (`/api/v1/auth/oidc/login`); terminals with OAuth2 client
credentials (`POST /api/v1/oauth/token`, scope = the terminal's kind). Both get a
short-lived JWT that `resolver.resolve` turns into a Principal on each request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app
from joserfc.jwk import OctKey

from backend.identity.resolver import EXTENSION


@dataclass
class IdentityState:
    """What identity keeps per app: the token key and lifetime, the OAuth2 server, SSO."""

    key: OctKey
    ttl: int
    oauth: Any
    sso: Any | None


def init_app(app: Flask) -> None:
    from backend.auth.principal import register_resolver
    from backend.identity import oauth, oidc, resolver, tokens

    app.extensions[EXTENSION] = IdentityState(
        key=tokens.derive_key(app.config["SECRET_KEY"]),
        ttl=int(app.config["ACCESS_TOKEN_TTL"]),
        oauth=oauth.make_server(app),
        sso=oidc.make_client(app),
    )
    register_resolver(app, resolver.resolve)


def state() -> IdentityState:
    return current_app.extensions[EXTENSION]
