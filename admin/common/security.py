"""What every screen page promises the browser: no caching, no inline script, no framing.

A kiosk is shared by strangers. A page that showed a person's data must not come back
from the history, the back/forward cache or any storage once that person has gone, so
every screen answer is `no-store`. The Content-Security-Policy allows scripts and
styles from the hub only (the screens' script lives in files), and connections to the
hub and to this PC's reader bridge only. A state-changing request must come from the
hub's own pages: SameSite=Strict cookies already keep other sites' requests from
carrying the session, the Origin check refuses the rest, and every form and page
request carries a CSRF token bound to the browser's session (Flask-WTF), so a
same-site page that is not ours (another app on a sibling host) cannot post either.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Flask, Response, abort, request
from flask_wtf.csrf import CSRFError, CSRFProtect

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
csrf = CSRFProtect()


def init_app(app: Flask) -> None:
    """CSRF for the screens only: the API takes bearer tokens, never cookies."""
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # bound to the browser's session
    app.config.setdefault("WTF_CSRF_SSL_STRICT", False)  # the Origin check above does it
    csrf.init_app(app)
    app.register_error_handler(CSRFError, _csrf_refused)


def _csrf_refused(error: CSRFError) -> tuple[str, int]:
    from flask import render_template, url_for
    from werkzeug.routing import BuildError

    try:
        start = url_for(f"{request.blueprint}.idle")
    except BuildError:
        start = "/"
    return render_template("common/refused.html", reason="csrf_failed", start=start,
                           detail=error.description), 400


def content_security_policy(bridge: str) -> str:
    return "; ".join((
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        f"connect-src 'self' {bridge}",
        "frame-src 'self'",
        "frame-ancestors 'self'",
        "base-uri 'none'",
        "form-action 'self'",
    ))


def _same_origin() -> bool:
    """The request came from a page of this hub (Fetch Metadata, else Origin)."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("Origin")
    return origin is None or origin == request.host_url.rstrip("/")


def guard(blueprint: Blueprint, bridge: Callable[[], str]) -> None:
    """Give a screen blueprint the headers above and refuse cross-site writes."""

    @blueprint.before_request
    def _refuse_cross_site() -> None:
        if request.method in SAFE_METHODS:
            return
        if not _same_origin():
            abort(403)
        csrf.protect()

    @blueprint.after_request
    def _headers(response: Response) -> Response:
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
        response.headers["Content-Security-Policy"] = content_security_policy(bridge())
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
        response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        return response
