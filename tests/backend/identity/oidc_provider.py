"""A small, real OpenID Connect provider for the SSO tests, built with Authlib's server side.

It runs in a thread on 127.0.0.1 and speaks real HTTP: discovery, an authorization
endpoint (authorization code with PKCE and nonce), a token endpoint issuing RS256
ID tokens, and the JWKS. The test plays the browser: it sets who is signed in at the
provider (`provider.sign_in(...)`), follows the hub's redirect to the provider, and
carries the provider's redirect back to the hub.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask, jsonify
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server


@dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        allowed = {"openid", "email", "profile"}
        return " ".join(s for s in (scope or "").split() if s in allowed)

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


class Provider:
    """The city's identity provider, as far as the hub can tell."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "city-1"})
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, Code] = {}
        self.user: dict[str, Any] | None = None
        self.token_requests = 0
        self.app = Flask("city-oidc-provider")
        self.server = AuthorizationServer(self.app, query_client=self.clients.get,
                                          save_token=lambda token, req: None)
        self.server.register_grant(self._code_grant(),
                                   [CodeChallenge(required=True), self._openid()])
        self._routes()
        self._http = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.issuer = f"http://127.0.0.1:{self._http.server_port}"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    # -- what a test does ----------------------------------------------------------

    def register(self, redirect_uri: str) -> Client:
        client = Client(f"hub-{secrets.token_hex(4)}", secrets.token_urlsafe(24),
                        (redirect_uri,))
        self.clients[client.client_id] = client
        return client

    def sign_in(self, sub: str, email: str | None = None, email_verified: bool = True,
                name: str = "") -> None:
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
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic",
                                                          "client_secret_post"],
            })

        @app.get("/jwks")
        def jwks() -> Any:
            return jsonify({"keys": [self.key.as_dict(private=False)]})

        @app.get("/authorize")
        def authorize() -> Any:
            grant = server.get_consent_grant(end_user=self.user)
            return server.create_authorization_response(grant=grant, grant_user=self.user)

        @app.post("/token")
        def token() -> Any:
            self.token_requests += 1
            return server.create_token_response()

