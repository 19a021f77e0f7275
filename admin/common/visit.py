"""A citizen's visit at a screen: it starts when the page hands over the card session
the reader daemon opened, and ends when the card leaves, the citizen is done, or the
screen times out.

The hand-over checks the token exactly as the API would (the card session must be
open, its card active, its terminal of this screen's kind), so a token from another
kind of terminal cannot open a kiosk page. Ending a visit ends the card session at
the hub at once: whatever the daemon does later, the session is already gone.
"""

from __future__ import annotations

from flask import Response, jsonify, request, session, url_for
from sqlalchemy import select

from admin.common import i18n
from admin.common.sessions import CARD_COOKIE, card_principal, clear_cookie, resolve, set_cookie
from backend.api.routing import commit
from backend.cards.sessions import log_out
from backend.db import session as db_session
from backend.registry.models import Citizen

TERMINAL_KEY = "terminal_id"


def hand_over(kinds: tuple[str, ...], next_endpoint: str, assurance: str | None = None,
              citizens_language: bool = True) -> Response:
    """Take the card session from the page; answer where the page goes next.

    `citizens_language`: the screen is the citizen's (a kiosk) and speaks their registry
    language unless they chose another; an agent's screen keeps the agent's."""
    principal = resolve(request.form.get("token", ""))
    card = principal.card if principal is not None else None
    if principal is None or card is None or principal.role not in kinds or (
            assurance == "pin" and card.assurance != "pin"):
        return jsonify({"refused": "session_ended"}), 409  # type: ignore[return-value]
    response = jsonify({"next": url_for(next_endpoint)})
    set_cookie(response, CARD_COOKIE, request.form["token"])
    if citizens_language and not i18n.choose(request.cookies.get(i18n.LANGUAGE_COOKIE)):
        spoken = db_session().scalar(select(Citizen.language).where(
            Citizen.id == card.citizen_id))
        set_cookie(response, i18n.LANGUAGE_COOKIE, i18n.choose(spoken) or
                   i18n.DEFAULT_LANGUAGE)
    session[TERMINAL_KEY] = principal.terminal_id
    db_session().rollback()
    return response


def end_visit(kinds: tuple[str, ...], start_endpoint: str,
              citizens_language: bool = True) -> Response:
    """The citizen is done (or gone): end the session, forget the cookies (and the
    language, on the citizen's own screen)."""
    principal = card_principal(kinds)
    if principal is not None and principal.card is not None:
        log_out(db_session(), principal.card, request.form.get("why", "done")[:20],
                principal)
        commit()
    response = jsonify({"next": url_for(start_endpoint)})
    clear_cookie(response, CARD_COOKIE)
    if citizens_language:
        clear_cookie(response, i18n.LANGUAGE_COOKIE)
    return response
