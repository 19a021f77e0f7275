"""Staff single sign-on through the city's OpenID Connect provider (Authlib's Flask client).

`GET /api/v1/auth/oidc/login` redirects to the provider (authorization code flow with
PKCE, state and nonce kept in the signed session cookie); the provider sends the
browser back to `GET /api/v1/auth/oidc/callback`, where the hub exchanges the code,
checks the ID token (signature from the provider's JWKS, issuer, audience, expiry,
nonce) and maps it to an existing staff account (`signin.sso_login`). Nobody gets
an account by signing in: an admin creates it first.

The staff screens use the same flow with a callback of their own
(`/staff/sso/callback`, `admin/staff`), which answers with a page and a cookie
instead of JSON: `login_redirect` and `verified_claims` take the callback's path, so
both are this one code. Register both callback URLs with the city's provider. A
state is good only at the callback it was made for.

Configured by SATUKARTU_OIDC_ISSUER, _CLIENT_ID and _CLIENT_SECRET; with no issuer
the endpoints answer `sso_disabled`.
"""

from __future__ import annotations

from typing import Any

from authlib.common.errors import AuthlibBaseError
from authlib.integrations.flask_client import OAuth
from flask import Flask, Response, current_app, request, session
from joserfc.errors import JoseError
from requests import RequestException

from backend.errors import ApiError
from backend.identity.resolver import EXTENSION
from backend.reasons import Reason

CALLBACK_PATH = "/api/v1/auth/oidc/callback"
SCOPES = "openid email profile"
TIMEOUT = 10  # seconds for each call to the provider


def make_client(app: Flask) -> Any | None:
    issuer = app.config.get("OIDC_ISSUER", "")
    if not issuer:
        return None
    oauth = OAuth(app)
    return oauth.register(
        "city",
        client_id=app.config["OIDC_CLIENT_ID"],
        client_secret=app.config["OIDC_CLIENT_SECRET"],
        server_metadata_url=issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": SCOPES, "code_challenge_method": "S256",
                       "default_timeout": TIMEOUT},
    )


def configured() -> bool:
    """Whether the hub has a sign-on provider (the sign-in page shows its button then)."""
    return current_app.extensions[EXTENSION].sso is not None


def _client() -> Any:
    client = current_app.extensions[EXTENSION].sso
    if client is None:
        raise ApiError(Reason.SSO_DISABLED, "single sign-on is not configured", 404)
    return client


def login_redirect(callback_path: str = CALLBACK_PATH) -> Response:
    """Send the browser to the provider, remembering state, nonce and PKCE verifier;
    the provider sends it back to `callback_path` on this hub's origin."""
    client = _client()
    redirect_uri = current_app.config["ORIGIN"].rstrip("/") + callback_path
    try:
        _check_issuer(client)
        return client.authorize_redirect(redirect_uri)
    except (AuthlibBaseError, RequestException, ValueError, KeyError, RuntimeError) as exc:
        raise ApiError(Reason.SSO_FAILED, "the sign-on provider cannot be reached", 502,
                       details={"problem": type(exc).__name__}) from exc


def verified_claims(callback_path: str = CALLBACK_PATH) -> dict[str, Any]:
    """The provider's answer at the callback `callback_path`, checked; the ID token's
    claims."""
    client = _client()
    if request.args.get("error"):
        raise ApiError(Reason.SSO_FAILED, "the sign-on provider refused", 401,
                       details={"provider_error": request.args.get("error", "")[:100]})
    if not request.args.get("code") or not request.args.get("state"):
        raise ApiError(Reason.SSO_FAILED, "the callback lacks code or state", 400)
    _check_callback(client, request.args["state"], callback_path)
    try:
        token = client.authorize_access_token()
    except (AuthlibBaseError, JoseError, RequestException, ValueError, KeyError,
            RuntimeError) as exc:
        raise ApiError(Reason.SSO_FAILED, "the sign-on could not be verified", 401,
                       details={"problem": type(exc).__name__}) from exc
    claims = token.get("userinfo")
    if not claims or not isinstance(claims.get("sub"), str):
        raise ApiError(Reason.SSO_FAILED, "the provider sent no verified ID token", 401)
    return dict(claims)


def _check_issuer(client: Any) -> None:
    """The discovery document must name the issuer we configured (no mix-up)."""
    metadata = client.load_server_metadata()
    configured = current_app.config["OIDC_ISSUER"].rstrip("/")
    if str(metadata.get("issuer", "")).rstrip("/") != configured:
        raise ValueError("the provider's metadata names another issuer")


def _check_callback(client: Any, state: str, callback_path: str) -> None:
    """A state made for one callback is not taken at another (the API's JSON callback
    and the screens' page callback each finish only the flows they started)."""
    data = client.framework.get_state_data(session, state)
    if data is None:
        return  # unknown state: Authlib refuses it (MismatchingStateError)
    expected = current_app.config["ORIGIN"].rstrip("/") + callback_path
    if data.get("redirect_uri") != expected:
        raise ApiError(Reason.SSO_FAILED, "this sign-on was started for another callback",
                       400, details={"problem": "CallbackMismatch"})
