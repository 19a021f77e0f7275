"""The application factory: one hub, whatever runs it (gunicorn, CLI, Celery, tests)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Request, g
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from backend import config as config_module
from backend.api.routing import MAX_INT
from backend.db import Database, close_request_connection
from backend.errors import register_error_handlers
from backend.observability import init_app as init_observability
from backend.observability import logs

# Each domain's API module; importing it declares its routes and operations.
API_MODULES = (
    "backend.api.meta",
    "backend.observability.api",
    "backend.registry.api",
    "backend.identity.api",
    "backend.cards.api",
    "backend.cards.face_api",
    "backend.audit.api",
    "backend.ledger.api",
    "backend.signals.api",
    "backend.services.api",
    "backend.programmes.api",
    "backend.documents.api",
    "backend.approvals.api",
    "backend.bulk.api",
    "backend.offline.api",
    "backend.registry.dedup.api",
    "backend.grievances.api",
)


class BoundedInt(IntegerConverter):
    """`<int:...>` in a route: a number beyond what the databases hold matches nothing
    (404), so it never reaches SQL, where it would be an overflow."""

    def __init__(self, url_map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_INT)
        super().__init__(url_map, *args, **kwargs)


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie session, opened for free when the request has no cookie.

    The API is called with bearer tokens and no cookies (only the staff web sign-in
    uses the session), yet Flask builds its cookie signer and parses the cookies on
    every request: ~0.1 ms of a card authentication's two requests each.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and "HTTP_COOKIE" not in request.environ:
            return self.session_class()
        return super().open_session(app, request)


def create_app(**overrides: Any) -> Flask:
    """Build the hub. `overrides` replace settings (tests, CLI); the rest come from env."""
    settings = config_module.load(**overrides)
    app = Flask(__name__, instance_path=settings["INSTANCE_DIR"], instance_relative_config=True)
    app.config.update(settings)
    app.config["SECRET_KEY"] = config_module.secret_key(settings)
    app.config["MAX_CONTENT_LENGTH"] = 4 << 20
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.session_interface = CookieSessions()
    logs.configure(settings["LOG_LEVEL"], settings["LOG_FORMAT"])
    app.extensions["satukartu.db"] = Database(settings["DATABASE_URL"], settings["DATABASE_POOLER"],
                                              settings["DATABASE_REPLICA_URL"])
    if settings["PROXY_HOPS"]:
        hops = settings["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    init_observability(app)  # first: the request id is chosen before any other hook
    register_error_handlers(app)
    app.url_map.converters["int"] = BoundedInt
    _register_api(app)
    _init_domains(app)

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        sess = g.pop("db_session", None)
        try:
            if sess is not None:
                sess.close()
            close_request_connection()
        except Exception:  # the answer is already made; a dead connection must not undo it
            logging.getLogger(__name__).warning("closing the session failed", exc_info=True)

    return app


def _register_api(app: Flask) -> None:
    import importlib

    for name in API_MODULES:
        module = importlib.import_module(name)
        app.register_blueprint(module.api.blueprint)
        init = getattr(module, "init_app", None)
        if init is not None:
            init(app)


def _init_domains(app: Flask) -> None:
    """Domains that hook into the request cycle (token resolvers, audit hooks) do it here."""
    import importlib

    for name in ("backend.identity", "backend.cards", "backend.audit",
                 "backend.services.catalogue", "backend.dci", "backend.dci.inbound"):
        module = importlib.import_module(name)
        init = getattr(module, "init_app", None)
        if init is not None:
            init(app)
