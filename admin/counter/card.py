"""The card itself: unblock its PIN with the PUK, report it lost, have it replaced.

- **Unblock.** A citizen whose PIN is blocked can still tap (the card's 9E key needs
  no PIN), so the counter takes the tap session for this only. The clerk checks who
  the citizen is against the record and vouches (`lifecycle.authorise_pin_unblock`,
  audited under the clerk's name); then the citizen types the PUK and a new PIN on the
  counter's keypad, which go to the reader's bridge (`POST /unblock`) and from there
  to the card's RESET RETRY COUNTER, never to the hub. The page tells the hub how the
  card answered, and the hub records it.
- **Lost.** `lifecycle.suspend_at_counter`: a clerk may put on hold the card proven
  with its PIN at their counter, nothing else (reinstating stays with admins).
- **Replace.** An issuance job for this citizen at an enrolment desk
  (`backend.cards.desk.start`), when the city has desks; otherwise the page says
  where to go.
"""

from __future__ import annotations

import importlib
from typing import Any

from flask import jsonify, redirect, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from admin.counter import record
from admin.counter.screen import (
    blueprint,
    card,
    choose_purpose,
    clerk,
    clerk_at_counter,
    counter_advice,
    end,
    page,
    purpose_of,
    read,
)
from backend.api.routing import commit
from backend.audit import record as audit_record
from backend.cards import lifecycle
from backend.db import session
from backend.errors import ApiError
from backend.identity.models import Terminal

UNBLOCK_OUTCOMES = {"ok": "ok", "puk_invalid": "puk_incorrect", "puk_blocked": "puk_blocked"}


# --- unblock -------------------------------------------------------------------------


@blueprint.get("/unblock")
def unblock() -> str:
    principal = card(None)  # a tap will do: the PIN is what is blocked
    if purpose_of(principal) != "unblock":
        choose_purpose(principal, "unblock")
    found = record.load(principal)
    read(principal, "unblock", ("full_name", "national_number", "household", "card"))
    commit()
    return page("counter/unblock.html", record=found,
                blocked=principal.card.assurance != "pin")  # type: ignore[union-attr]


@blueprint.post("/unblock")
def unblock_vouch() -> BaseResponse | tuple[str, int]:
    principal = card(None)
    if request.form.get("checked") != "yes":
        found = record.load(principal)
        read(principal, "unblock", ("full_name", "national_number", "household", "card"))
        commit()
        errors = [{"field": "checked", "text": _("Confirm that you have checked who the "
                                                  "citizen is")}]
        return page("counter/unblock.html", record=found, errors=errors,
                    blocked=principal.card.assurance != "pin"), 400  # type: ignore[union-attr]
    try:
        lifecycle.authorise_pin_unblock(session(), principal.card.card_serial,  # type: ignore[union-attr]
                                        principal=clerk_at_counter(principal))
        commit()
    except ApiError as error:
        session().rollback()
        return redirect(url_for("counter.idle", problem=error.reason.value), 303)
    return redirect(url_for("counter.unblock_keypad"), 303)


@blueprint.get("/unblock/keypad")
def unblock_keypad() -> str:
    card(None)
    return page("counter/unblock_keypad.html")


@blueprint.post("/unblock/result")
def unblock_result() -> BaseResponse:
    """What the card answered the reset, as the page heard it from the bridge."""
    principal = card(None)
    outcome = UNBLOCK_OUTCOMES.get(request.form.get("outcome", ""), "card_error")
    audit_record(session(), action="card.pin_unblock_result", subject_type="card",
                 subject_id=principal.card.card_serial,  # type: ignore[union-attr]
                 citizen_id=principal.card.citizen_id,  # type: ignore[union-attr]
                 outcome=outcome, principal=clerk_at_counter(principal),
                 details={"reported_by": "counter reader", "terminal": principal.terminal_id})
    commit()
    return jsonify({"next": url_for("counter.pin")})


# --- report lost -----------------------------------------------------------------------


@blueprint.get("/lost")
def lost() -> str:
    principal = card()
    found = record.load(principal)
    read(principal, "lost", ("full_name", "card"))
    commit()
    return page("counter/lost.html", record=found)


@blueprint.post("/lost")
def lost_report() -> BaseResponse | tuple[str, int]:
    principal = card()
    try:
        lifecycle.suspend_at_counter(session(), principal, clerk_at_counter(principal),
                                     note="reported at a service counter")
        commit()
    except ApiError as error:
        session().rollback()
        advice = counter_advice(error.reason.value)
        found = record.load(principal)
        read(principal, "lost", ("full_name", "card"))
        commit()
        errors = [{"field": None, "text": f"{advice.title}. {advice.next_step}"}]
        return page("counter/lost.html", record=found, errors=errors), error.status
    end()  # the card's sessions ended with it: this visit is over
    return redirect(url_for("counter.lost_done"), 303)


@blueprint.get("/lost/done")
def lost_done() -> str:
    clerk()
    return page("counter/lost_done.html", needs_card=False)


# --- replace ---------------------------------------------------------------------------


def _desk_module() -> Any:
    """The enrolment desks' issuance (`backend.cards.desk`), where this hub has it."""
    try:
        return importlib.import_module("backend.cards.desk")
    except ImportError:
        return None


def _desks() -> list[Terminal]:
    return list(session().scalars(select(Terminal).where(
        Terminal.kind == "desk", Terminal.enabled.is_(True)).order_by(Terminal.name)))


def _replace_page(desks: list[Terminal], chosen: str | None,
                  errors: list[dict[str, Any]] | None = None) -> str:
    options = [(d.id, Markup('<span translate="no">{}</span>').format(d.name), None)
               for d in desks]
    return page("counter/replace.html", desks=desks, desk_options=options, chosen=chosen,
                errors=errors or [])


@blueprint.get("/replace")
def replace() -> str:
    card()
    desks = _desks() if _desk_module() is not None else []
    session().rollback()
    return _replace_page(desks, None)


@blueprint.post("/replace")
def replace_request() -> BaseResponse | tuple[str, int]:
    principal = card()
    desk = _desk_module()
    desks = _desks() if desk is not None else []
    chosen = next((d for d in desks if d.id == request.form.get("desk")), None)
    if chosen is None:
        session().rollback()
        errors = [{"field": f"desk-{desks[0].id}" if desks else None,
                   "text": _("Choose where the citizen will collect the new card")}]
        return _replace_page(desks, None, errors), 400
    holder = record.load(principal).citizen
    try:
        desk.start(session(), citizen_number=holder.national_number, desk_id=chosen.id,
                   old_reason="superseded", principal=clerk_at_counter(principal))
        commit()
    except ApiError as error:
        session().rollback()
        found = counter_advice(error.reason.value)
        errors = [{"field": None, "text": f"{found.title}. {found.next_step}"}]
        return _replace_page(desks, chosen.id, errors), error.status
    return redirect(url_for("counter.citizen", notice="replacement_requested",
                            desk=chosen.name), 303)
