"""What every screen shares: languages, security headers, sessions, layout and style.

A screen is a blueprint made by `screen_blueprint`: it gets the common templates and
static files, `no-store` and a strict Content-Security-Policy on every answer, a
refusal of cross-site writes, and the language switch (`?lang=xx`), kept in a cookie
that ends with the citizen's visit.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, render_template, request
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from admin.common import appeals, i18n, messages, security, staff
from admin.common.sessions import Gone

blueprint = Blueprint("screens_common", __name__, template_folder="templates",
                      static_folder="static", static_url_path="/static/screens")


def screen_blueprint(name: str, import_name: str, url_prefix: str) -> Blueprint:
    screen = Blueprint(name, import_name, url_prefix=url_prefix, template_folder="templates",
                       static_folder="static", static_url_path="/static")
    security.guard(screen, lambda: bridge_for(name))

    @screen.after_request
    def _remember_language(response: Response) -> Response:
        chosen = i18n.choose(request.args.get("lang"))
        if chosen:
            response.set_cookie(i18n.LANGUAGE_COOKIE, chosen, httponly=True,
                                samesite="Strict", secure=request.is_secure, path="/")
        return response

    return screen


def bridge_for(screen: str) -> str:
    """The reader bridge this screen's browser talks to (see admin/README.md)."""
    config = current_app.config
    if screen == "agent" and config["AGENT_READER_BRIDGE"]:
        return config["AGENT_READER_BRIDGE"]
    if screen == "counter" and config["COUNTER_READER_BRIDGE"]:
        return config["COUNTER_READER_BRIDGE"]
    return config["READER_BRIDGE"]


def render(template: str, screen: str, **context: Any) -> str:
    """A screen page, with what its script needs to meet the reader and the clock."""
    config = current_app.config
    principal = g.get("principal")
    card = principal.card if principal is not None else None
    return render_template(template, screen=screen, bridge=bridge_for(screen),
                           card_serial=card.card_serial if card else None,
                           idle_warning=config["SCREEN_IDLE_WARNING"],
                           idle_answer=config["SCREEN_IDLE_ANSWER"], **context)


def _programme_title(key: str) -> str:
    from backend.documents.receipts import programme_title

    return programme_title(key, i18n.language())


def _csrf_field() -> Markup:
    """The hidden field every screen form carries (checked in `security.guard`)."""
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(
        generate_csrf())


def init_app(app: Flask) -> None:
    i18n.init_app(app)
    security.init_app(app)
    app.jinja_env.globals.update(entry_words=messages.entry_words,
                                 category_words=messages.category_words,
                                 role_words=messages.role_words,
                                 programme_title=_programme_title,
                                 csrf_field=_csrf_field, staff_nav=staff.staff_nav,
                                 appeal_status=appeals.status_words,
                                 appeal_outcome=appeals.outcome_words,
                                 appeal_subject=appeals.subject_words)
    app.register_blueprint(blueprint)
    app.register_error_handler(Gone, lambda gone: gone.get_response())
