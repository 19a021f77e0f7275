"""A small, real OpenID Connect provider for tests, built with Authlib's server side.

It stands in for the city's provider: a Flask app on a free loopback port, served in a
thread by werkzeug, speaking real HTTP. Discovery, an authorization endpoint that
approves at once for the person the test has signed in (`sign_in`), a token endpoint
issuing RS256 ID tokens, and the JWKS. It insists on what the hub must do: the
authorization code flow with a nonce and PKCE, S256 only, for every client.

    with running_provider() as city:
        client = city.register("https://hub.example/staff/sso/callback")
        city.sign_in("city-4711", email="wulan@kota.example")
        ...                              # the hub's redirect to city.issuer + /authorize
        city.authorizations[-1]          # what the hub asked for (code_challenge_method...)

The test plays the browser (or a real browser does): it follows the hub's redirect to
the provider and carries the provider's redirect back to the hub.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import ClientMixin, InvalidRequestError, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask, jsonify, request
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server

SCOPES = ("openid", "email", "profile")


@dataclass
class Client(ClientMixin):
    """A relying party registered at the provider (the hub), a confidential client."""

    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in (scope or "").split() if s in SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class Code:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    nonce: str | None
    user: dict[str, Any]
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


class S256Required(CodeChallenge):
    """PKCE for every client, confidential ones too, and only with S256 (RFC 9700 2.1.1)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge") or data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE with code_challenge_method=S256 is required")
        super().validate_code_challenge(grant, redirect_uri)


class Provider:
    """The city's identity provider, as far as the hub can tell."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "city-1"})
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, Code] = {}
        self.user: dict[str, Any] | None = None
        self.authorizations: list[dict[str, str]] = []  # each /authorize query, as sent
        self.token_requests = 0
        self.app = Flask("city-oidc-provider")
        self.server = AuthorizationServer(self.app, query_client=self.clients.get,
                                          save_token=lambda token, req: None)
        self.server.register_grant(self._code_grant(), [S256Required(), self._openid()])
        self._routes()
        self._http = make_server(host, 0, self.app, threaded=True)
        self.issuer = f"http://{host}:{self._http.server_port}"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True,
                                        name="oidc-provider")

    # -- what a test does ----------------------------------------------------------

    def register(self, *redirect_uris: str) -> Client:
        """A client for the hub, allowed to come back to each of `redirect_uris`."""
        client = Client(f"hub-{secrets.token_hex(4)}", secrets.token_urlsafe(24),
                        tuple(redirect_uris))
        self.clients[client.client_id] = client
        return client

    def sign_in(self, sub: str, email: str | None = None, email_verified: bool = True,
                name: str = "") -> None:
        """Who is signed in at the provider: the next authorization is theirs, approved."""
        self.user = {"sub": sub, "email": email, "email_verified": email_verified,
                     "name": name}

    def start(self) -> Provider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._http.shutdown()
        self._thread.join(timeout=5)

    # -- Authlib wiring ------------------------------------------------------------

    def _code_grant(self) -> type:
        provider = self

        class CodeGrant(grants.AuthorizationCodeGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

            def save_authorization_code(self, code: str, req: Any) -> None:
                data = req.payload.data
                provider.codes[code] = Code(
                    code=code, client_id=req.client.client_id,
                    redirect_uri=req.payload.redirect_uri, scope=req.payload.scope,
                    nonce=data.get("nonce"), user=dict(req.user),
                    code_challenge=data.get("code_challenge"),
                    code_challenge_method=data.get("code_challenge_method"))

            def query_authorization_code(self, code: str, client: Client) -> Code | None:
                found = provider.codes.get(code)
                return found if found and found.client_id == client.client_id else None

            def delete_authorization_code(self, authorization_code: Code) -> None:
                provider.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code: Code) -> dict[str, Any]:
                return authorization_code.user

        return CodeGrant

    def _openid(self) -> OpenIDCode:
        provider = self

        class CityOpenIDCode(OpenIDCode):
            def resolve_client_private_key(self, client: Client) -> RSAKey:
                return provider.key

            def get_client_claims(self, client: Client) -> dict[str, Any]:
                return {"iss": provider.issuer}

            def get_client_algorithm(self, client: Client) -> str:
                return "RS256"

            def exists_nonce(self, nonce: str, req: Any) -> bool:
                return any(c.nonce == nonce for c in provider.codes.values())

            def generate_user_info(self, user: dict[str, Any], scope: str) -> UserInfo:
                info = UserInfo(sub=user["sub"], name=user["name"])
                if "email" in scope.split() and user["email"]:
                    info["email"] = user["email"]
                    info["email_verified"] = user["email_verified"]
                return info

        return CityOpenIDCode(require_nonce=True)

    def _routes(self) -> None:
        app, server = self.app, self.server

        @app.get("/.well-known/openid-configuration")
        def discovery() -> Any:
            return jsonify({
                "issuer": self.issuer,
                "authorization_endpoint": self.issuer + "/authorize",
                "token_endpoint": self.issuer + "/token",
                "jwks_uri": self.issuer + "/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": list(SCOPES),
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic",
                                                          "client_secret_post"],
            })

        @app.get("/jwks")
        def jwks() -> Any:
            return jsonify({"keys": [self.key.as_dict(private=False)]})

        @app.get("/authorize")
        def authorize() -> Any:
            self.authorizations.append(request.args.to_dict())
            try:
                grant = server.get_consent_grant(end_user=self.user)
            except OAuth2Error as error:  # e.g. no PKCE: an error page, no redirect
                return server.handle_error_response(request, error)
            return server.create_authorization_response(grant=grant, grant_user=self.user)

        @app.post("/token")
        def token() -> Any:
            self.token_requests += 1
            return server.create_token_response()


@contextmanager
def running_provider() -> Iterator[Provider]:
    """A provider serving on a free loopback port until the block ends."""
    provider = Provider().start()
    try:
        yield provider
    finally:
        provider.stop()
