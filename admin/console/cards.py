"""Cards: find one by its serial, see its state, and change it.

Every step calls the lifecycle's functions the API calls (`cards.lifecycle`: suspend,
reinstate, revoke with an RFC 5280 reason, authorise a PIN unblock), the desk's for a
replacement (`cards.desk.start`, the issuance job a desk then makes the card for) and
the printed face's (`cards.face.face_pdf`), with the admin as the principal. A card's
pages name its holder, so they read the holder's record: the purpose is asked for as
on the holder's record (`purposes.py`) and every page records the read.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, redirect, request, url_for
from flask_babel import gettext as _

from admin.console import once, purposes, reads, words
from admin.console.blueprint import admin, blueprint, page
from backend.api.routing import commit
from backend.cards import desk, face, lifecycle
from backend.cards.models import LIVE_STATUSES, Card
from backend.db import session
from backend.errors import ApiError
from backend.identity import accounts
from backend.registry import service
from backend.registry.models import Citizen

MAX_NOTE = 500
MAX_SERIAL = 40
SHOWN = ("full_name", "card")
# Reasons offered first for a revocation: the everyday ones, then the rest of RFC 5280's.
REVOKE_ORDER = ("keyCompromise", "cessationOfOperation", "privilegeWithdrawn",
                "affiliationChanged", "superseded", "unspecified")

Errors = list[dict[str, str]]


def notice_for(done: str | None) -> str | None:
    found = {"suspended": _("The card is on hold. It works again when you reinstate it."),
             "reinstated": _("The card works again."),
             "revoked": _("The card was stopped for good."),
             "replacement": _("A new card was asked for. The enrolment desk makes it; the "
                              "old card stops working when the new one is ready."),
             "unblock": _("The PIN unblock is authorised. The person can now reset the PIN "
                          "at a service counter with the PUK.")}
    return found.get(done or "")


def revoke_choices() -> list[tuple[str, str]]:
    known = [r for r in REVOKE_ORDER if r in lifecycle.REVOKE_REASONS]
    rest = [r for r in lifecycle.REVOKE_REASONS if r not in known]
    return [(r, f"{words.revoke_reason(r)} ({r})") for r in known + rest]


@blueprint.get("/cards")
def cards() -> tuple[str, int] | Any:
    serial = request.args.get("serial")
    if serial is None:
        return page("console/cards.html", serial="")
    serial = serial.strip()[:MAX_SERIAL]
    if not serial:
        errors = [{"field": "serial", "text": _("Enter the card's serial")}]
        return page("console/cards.html", 400, serial=serial, errors=errors)
    try:
        found = lifecycle.get_card(session(), serial)
    except ApiError:
        session().rollback()
        errors = [{"field": "serial", "text": _("No card has this serial. Check it on the "
                                                 "back of the card.")}]
        return page("console/cards.html", 404, serial=serial, errors=errors)
    session().rollback()
    return redirect(url_for("console.card", serial=found.serial), 303)


def _card_and_purpose(serial: str, endpoint: str) -> tuple[Card, Citizen, str]:
    """The card, its holder, and the purpose of reading the holder's record (or the
    page that asks for it, then back to this one)."""
    card = lifecycle.get_card(session(), serial)
    purpose = purposes.require("c", card.citizen_id, url_for(endpoint, serial=card.serial))
    holder = service.require_citizen(session(), card.citizen_id)
    return card, holder, purpose


def _shown(template: str, card: Card, holder: Citizen, purpose: str, status: int = 200,
           **context: Any) -> tuple[str, int]:
    return reads.shown(template, purpose, [(holder.id, SHOWN)], status, card=card,
                       holder=holder, purpose_label=purposes.label("c", holder.id),
                       **context)


@blueprint.get("/cards/<serial>")
def card(serial: str) -> tuple[str, int]:
    found, holder, purpose = _card_and_purpose(serial, "console.card")
    replaces = session().get(Card, found.replaces_id) if found.replaces_id else None
    return _shown("console/card.html", found, holder, purpose, replaces=replaces,
                  live=found.status in LIVE_STATUSES,
                  notice=notice_for(request.args.get("done")))


def _note() -> tuple[str, Errors]:
    note = request.form.get("note", "").strip()
    if len(note) > MAX_NOTE:
        return note, [{"field": "note", "text": _("Enter a note of at most 500 characters")}]
    return note, []


def _refused(error: ApiError) -> Errors:
    problem = words.refusal(error)
    return [{"field": problem.field or "", "text": f"{problem.title}. {problem.next_step}"}]


def _step(serial: str, endpoint: str, template: str, act: Any, done: str,
          **context: Any) -> Any:
    """A one-page step: GET shows what it does; POST does it once, back to the card."""
    found, holder, purpose = _card_and_purpose(serial, endpoint)
    if request.method == "GET":
        return _shown(template, found, holder, purpose, **context)
    note, errors = _note()
    if errors:
        return _shown(template, found, holder, purpose, 400, errors=errors, note=note,
                      **context)
    repeated = once.claim()
    if repeated is not None:
        return repeated
    try:
        act(found.serial, note)
    except ApiError as error:
        session().rollback()
        found, holder, purpose = _card_and_purpose(serial, endpoint)
        return _shown(template, found, holder, purpose, error.status, errors=_refused(error),
                      note=note, **context)
    return once.finish(redirect(url_for("console.card", serial=found.serial, done=done), 303))


@blueprint.route("/cards/<serial>/suspend", methods=["GET", "POST"])
def card_suspend(serial: str) -> Any:
    return _step(serial, "console.card_suspend", "console/card_suspend.html",
                 lambda s, note: lifecycle.suspend(session(), s, "certificateHold", note,
                                                   principal=admin()), "suspended")


@blueprint.route("/cards/<serial>/reinstate", methods=["GET", "POST"])
def card_reinstate(serial: str) -> Any:
    return _step(serial, "console.card_reinstate", "console/card_reinstate.html",
                 lambda s, note: lifecycle.reinstate(session(), s, note, principal=admin()),
                 "reinstated")


@blueprint.route("/cards/<serial>/pin-unblock", methods=["GET", "POST"])
def card_pin_unblock(serial: str) -> Any:
    return _step(serial, "console.card_pin_unblock", "console/card_unblock.html",
                 lambda s, _note: lifecycle.authorise_pin_unblock(session(), s,
                                                                  principal=admin()),
                 "unblock")


@blueprint.route("/cards/<serial>/revoke", methods=["GET", "POST"])
def card_revoke(serial: str) -> Any:
    """GET: the reason. POST step=check: what will happen. POST step=do: revoke, once."""
    found, holder, purpose = _card_and_purpose(serial, "console.card_revoke")
    choices = revoke_choices()
    if request.method == "GET":
        return _shown("console/card_revoke.html", found, holder, purpose, choices=choices)
    reason = request.form.get("reason", "")
    note, errors = _note()
    if reason not in lifecycle.REVOKE_REASONS:
        errors.insert(0, {"field": "reason", "text": _("Choose why the card is stopped")})
    if errors:
        return _shown("console/card_revoke.html", found, holder, purpose, 400, choices=choices,
                      errors=errors, reason=reason, note=note)
    if request.form.get("step") != "do":
        return _shown("console/card_revoke_confirm.html", found, holder, purpose,
                      reason=reason, note=note)
    repeated = once.claim()
    if repeated is not None:
        return repeated
    try:
        lifecycle.revoke(session(), found.serial, reason, note, principal=admin())
    except ApiError as error:
        session().rollback()
        found, holder, purpose = _card_and_purpose(serial, "console.card_revoke")
        return _shown("console/card_revoke.html", found, holder, purpose, error.status,
                      choices=choices, errors=_refused(error), reason=reason, note=note)
    return once.finish(redirect(url_for("console.card", serial=found.serial, done="revoked"),
                                303))


def _desks() -> list[tuple[str, str]]:
    return [(t.id, t.name) for t in accounts.list_terminals(session(), "desk", True)]


@blueprint.route("/cards/<serial>/replace", methods=["GET", "POST"])
def card_replace(serial: str) -> Any:
    """Ask an enrolment desk for a new card; the old one is retired, with the reason
    chosen here, when the new card is made (and put on hold now, if asked)."""
    found, holder, purpose = _card_and_purpose(serial, "console.card_replace")
    context: dict[str, Any] = {"choices": revoke_choices(), "desks": _desks()}
    if request.method == "GET":
        return _shown("console/card_replace.html", found, holder, purpose, **context)
    reason = request.form.get("reason", "")
    chosen_desk = request.form.get("desk", "")
    hold = request.form.get("hold") == "yes"
    errors: Errors = []
    if reason not in lifecycle.REVOKE_REASONS:
        errors.append({"field": "reason", "text": _("Choose what happened to the old card")})
    if chosen_desk not in dict(context["desks"]):
        errors.append({"field": "desk", "text": _("Choose the enrolment desk that makes the "
                                                  "new card")})
    sent = {"reason": reason, "desk": chosen_desk, "hold": hold}
    if errors:
        return _shown("console/card_replace.html", found, holder, purpose, 400,
                      errors=errors, sent=sent, **context)
    repeated = once.claim()
    if repeated is not None:
        return repeated
    try:
        if hold and found.status == "active":
            lifecycle.suspend(session(), found.serial, "certificateHold",
                              "a replacement was asked for", principal=admin())
        desk.start(session(), citizen_number=holder.national_number, desk_id=chosen_desk,
                   old_reason=reason, principal=admin())
    except ApiError as error:
        session().rollback()
        found, holder, purpose = _card_and_purpose(serial, "console.card_replace")
        return _shown("console/card_replace.html", found, holder, purpose,
                      max(error.status, 400), errors=_refused(error), sent=sent, **context)
    return once.finish(redirect(url_for("console.card", serial=found.serial,
                                        done="replacement"), 303))


@blueprint.get("/cards/<serial>/face.pdf")
def card_face(serial: str) -> Response:
    """The card's printed face (CR80); reading the holder's name and number for it is
    recorded by `face_pdf` itself, as for the API."""
    printed, pdf = face.face_pdf(session(), serial, current_app.config, admin())
    commit()
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="card-{printed}.pdf"'})
