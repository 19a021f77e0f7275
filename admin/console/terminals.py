"""Terminals: register a kiosk, counter, agent device, gate or enrolment desk; replace
its secret; turn it off and on.

The identity domain's functions do the work (`identity.accounts`: the API's), with the
admin as the principal. A client secret is shown once, on the answer to the POST that
made it (never stored, never sent again: the hub keeps its hash), on a page that says
so; every console answer is `no-store`, so the browser keeps no copy.
"""

from __future__ import annotations

from typing import Any

from flask import redirect, request, url_for
from flask_babel import gettext as _

from admin.console import once, words
from admin.console.blueprint import admin, blueprint, page
from backend.auth.principal import TERMINAL_KINDS
from backend.db import session
from backend.errors import ApiError
from backend.identity import accounts
from backend.identity.models import Terminal

MAX_NAME = 200
TOKEN_ENDPOINT = "/api/v1/oauth/token"


def notice_for(done: str | None) -> str | None:
    found = {"disabled": _("The terminal is turned off. Its next request is refused."),
             "enabled": _("The terminal is turned on again."),
             "secret_shown": _("That was done already. The secret was shown once, on the "
                               "first answer; if nobody copied it, replace it again.")}
    return found.get(done or "")


def kind_choices() -> list[tuple[str, str]]:
    return [(kind, words.terminal_kind(kind)) for kind in TERMINAL_KINDS]


@blueprint.get("/terminals")
def terminals() -> tuple[str, int]:
    found = accounts.list_terminals(session())
    session().rollback()
    return page("console/terminals.html", terminals=found)


def _credentials(terminal: Terminal, secret: str, heading: str, rotated: bool
                 ) -> tuple[str, int]:
    return page("console/terminal_secret.html", terminal=terminal, secret=secret,
                heading=heading, rotated=rotated, token_endpoint=TOKEN_ENDPOINT,
                switch_language=False)


@blueprint.route("/terminals/new", methods=["GET", "POST"])
def terminal_new() -> Any:
    if request.method == "GET":
        return page("console/terminal_new.html", choices=kind_choices(), sent={})
    sent = {"kind": request.form.get("kind", ""), "name": request.form.get("name", "").strip()}
    errors = []
    if sent["kind"] not in TERMINAL_KINDS:
        errors.append({"field": "kind", "text": _("Choose what kind of terminal it is")})
    if not sent["name"]:
        errors.append({"field": "name", "text": _("Enter a name that says where it stands")})
    elif len(sent["name"]) > MAX_NAME or not sent["name"].isprintable():
        errors.append({"field": "name", "text": _("Enter a name of at most 200 letters, "
                                                  "digits and spaces")})
    if errors:
        return page("console/terminal_new.html", 400, choices=kind_choices(), sent=sent,
                    errors=errors)
    repeated = once.claim()
    if repeated is not None:
        return repeated
    try:
        terminal, secret = accounts.create_terminal(session(), kind=sent["kind"],
                                                    name=sent["name"], principal=admin())
    except ApiError as error:
        session().rollback()
        problem = words.refusal(error)
        return page("console/terminal_new.html", max(error.status, 400), choices=kind_choices(),
                    sent=sent, errors=[{"field": "name", "text": problem.title}])
    shown = _credentials(terminal, secret, _("Terminal registered"), False)
    return once.finish(shown, url_for("console.terminal", terminal_id=terminal.id,
                                      done="secret_shown"))


@blueprint.get("/terminals/<terminal_id>")
def terminal(terminal_id: str) -> tuple[str, int]:
    found = accounts.get_terminal(session(), terminal_id)
    answer = page("console/terminal.html", terminal=found,
                  notice=notice_for(request.args.get("done")))
    session().rollback()
    return answer


def _confirmed_step(terminal_id: str, template: str, act: Any) -> Any:
    """GET: what the step will do. POST: do it, once."""
    found = accounts.get_terminal(session(), terminal_id)
    if request.method == "GET":
        answer = page(template, terminal=found)
        session().rollback()
        return answer
    repeated = once.claim()
    if repeated is not None:
        return repeated
    return act(found)


@blueprint.route("/terminals/<terminal_id>/secret", methods=["GET", "POST"])
def terminal_secret(terminal_id: str) -> Any:
    def rotate(found: Terminal) -> Any:
        terminal_row, secret = accounts.rotate_terminal_secret(session(), found.id,
                                                               principal=admin())
        shown = _credentials(terminal_row, secret, _("New secret"), True)
        return once.finish(shown, url_for("console.terminal", terminal_id=found.id,
                                          done="secret_shown"))

    return _confirmed_step(terminal_id, "console/terminal_rotate.html", rotate)


@blueprint.route("/terminals/<terminal_id>/disable", methods=["GET", "POST"])
def terminal_disable(terminal_id: str) -> Any:
    def disable(found: Terminal) -> Any:
        accounts.set_terminal_enabled(session(), found.id, False, principal=admin())
        return once.finish(redirect(url_for("console.terminal", terminal_id=found.id,
                                            done="disabled"), 303))

    return _confirmed_step(terminal_id, "console/terminal_disable.html", disable)


@blueprint.post("/terminals/<terminal_id>/enable")
def terminal_enable(terminal_id: str) -> Any:
    found = accounts.get_terminal(session(), terminal_id)
    repeated = once.claim()
    if repeated is not None:
        return repeated
    accounts.set_terminal_enabled(session(), found.id, True, principal=admin())
    return once.finish(redirect(url_for("console.terminal", terminal_id=found.id,
                                        done="enabled"), 303))
