"""The counter's start: the card and PIN, the purpose, and the citizen's page."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, redirect, request, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from admin.common import visit
from admin.common.sessions import resolve
from admin.counter import record, words
from admin.counter.screen import (
    BOUND_KEY,
    COUNTER,
    PURPOSES,
    blueprint,
    card,
    choose_purpose,
    clerk,
    counter_advice,
    page,
    purpose_of,
    read,
    require_purpose,
)
from admin.counter.screen import end as end_visit_state
from backend.api.routing import commit
from backend.db import session as db_session
from backend.services.authorise import allowed_here
from backend.services.catalogue import modules


@blueprint.context_processor
def _words() -> dict[str, Any]:
    return {"relationship_words": words.relationship_words,
            "card_status_words": words.card_status_words, "purposes": PURPOSES,
            "visit_kinds": words.VISIT_KINDS, "document_words": words.DOCUMENTS,
            "letter_purposes": words.LETTER_PURPOSES}


@blueprint.get("/")
def idle() -> str:
    clerk()
    reason = request.args.get("problem")
    # A blocked PIN: the card's tap session is taken instead, for the unblock only.
    accept = "tap" if reason == "pin_blocked" else "pin"
    return page("counter/idle.html", needs_card=False, accept=accept,
                problem=counter_advice(reason) if reason else None)


@blueprint.get("/pin")
def pin() -> str:
    clerk()
    return page("counter/pin.html", needs_card=False)


@blueprint.post("/session")
def hand_over() -> Response:
    """Take the card session from the page, if it comes from this clerk's counter: the
    first one binds the counter to the clerk's browser session."""
    clerk()
    principal = resolve(request.form.get("token", ""))
    if principal is None or principal.card is None or principal.role not in COUNTER:
        db_session().rollback()
        return jsonify({"refused": "session_ended"}), 409  # type: ignore[return-value]
    bound = session.get(BOUND_KEY)
    if bound is not None and bound != principal.terminal_id:
        db_session().rollback()
        return jsonify({"refused": "terminal_not_bound"}), 409  # type: ignore[return-value]
    after = "counter.purpose" if principal.card.assurance == "pin" else "counter.unblock"
    answer = visit.hand_over(COUNTER, after, citizens_language=False)
    if answer.status_code == 200:
        session[BOUND_KEY] = principal.terminal_id
        end_visit_state()
    return answer


@blueprint.post("/end")
def end() -> Response:
    end_visit_state()
    return visit.end_visit(COUNTER, "counter.idle", citizens_language=False)


@blueprint.get("/purpose")
def purpose() -> str:
    principal = card()
    return page("counter/purpose.html", chosen=purpose_of(principal))


@blueprint.post("/purpose")
def choose() -> BaseResponse | tuple[str, int]:
    principal = card()
    chosen = request.form.get("purpose", "")
    if chosen not in PURPOSES:
        errors = [{"field": "purpose-question",
                   "text": _("Choose why you are opening the citizen's record")}]
        return page("counter/purpose.html", chosen=None, errors=errors), 400
    choose_purpose(principal, chosen)
    return redirect(url_for("counter.citizen"), 303)


@blueprint.get("/citizen")
def citizen() -> str:
    principal = card()
    chosen = require_purpose(principal)
    found = record.load(principal)
    read(principal, chosen, record.RECORD_FIELDS)
    commit()
    return page("counter/citizen.html", record=found, purpose=chosen,
                actions=offered(principal), notice=request.args.get("notice"))


def offered(principal: Any) -> list[tuple[str, str, Any]]:
    """(purpose, endpoint, label) of what this clerk may do for this card here, in the
    order of the counter's purposes; a programme not enabled in this city is left out."""
    enabled = modules()

    def runs(key: str, name: str) -> bool:
        module = enabled.get(key)
        return module is not None and name in module.actions and allowed_here(
            module.actions[name], principal)

    found = []
    if runs("health", "register_visit"):
        found.append(("clinic_visit", "counter.clinic_patient"))
    if any(runs(key, "withdraw") for key in enabled):
        found.append(("payout", "counter.payout"))
    if runs("civil_documents", "domicile_letter") or runs("civil_documents",
                                                          "family_card_extract"):
        found.append(("document", "counter.documents"))
    found += [("unblock", "counter.unblock"), ("lost", "counter.lost"),
              ("replace", "counter.replace"), ("appeal", "counter.appeal_new")]
    return [(key, endpoint, PURPOSES[key].label) for key, endpoint in found]
