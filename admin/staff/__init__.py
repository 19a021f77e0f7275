"""Staff sign-in for the screens: clerks, admins and auditors.

The pages sign in through the same domain functions as the API
(`backend.identity.signin`: the throttle, the audit record, the disabled-account rule,
TOTP; `backend.identity.oidc` for the city's single sign-on) and keep the staff token
in an HttpOnly, SameSite=Strict cookie; each role then starts on its own screen
(`admin.common.staff.ROLE_HOME`). Agents keep their shift sign-in on the agent screen.

The signed session cookie carries the idle clock, the CSRF token, the SSO's state and
the password step's success until the code comes. It is SameSite=Lax, not Strict: the
provider's redirect back to `/staff/sso/callback` is a cross-site navigation and must
bring the state with it. It is Secure when the hub's origin is HTTPS.
"""

from __future__ import annotations

from flask import Flask

from admin.staff import sso  # noqa: F401 - its routes join the blueprint
from admin.staff.views import blueprint


def init_app(app: Flask) -> None:
    if app.config.get("SESSION_COOKIE_SAMESITE") is None:
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    if str(app.config.get("ORIGIN", "")).startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True
    app.register_blueprint(blueprint)
