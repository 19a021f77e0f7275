"""The kiosk's pages. Each one is a thin reading of a domain function."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Response, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from admin.common import render, screen_blueprint, visit
from admin.common.messages import advice
from admin.common.sessions import require_card
from backend.api.routing import commit, parse_model
from backend.audit.api import own_access_log
from backend.audit.refusals import record_screen_refusal
from backend.cards import taplock
from backend.db import session
from backend.documents import statement, verification
from backend.errors import ApiError
from backend.registry.models import Citizen
from backend.services.holder_view import programmes_for
from backend.services.perform import perform

blueprint = screen_blueprint("kiosk", __name__, "/kiosk")
KIOSK = ("kiosk",)
SCREEN = "kiosk"
REFUSED_ACTION = "kiosk.services.run_action"  # a programme's action refused here
# What a citizen may ask for at a kiosk after the PIN: (module, action) of documents.
DOCUMENTS = (("civil_documents", "domicile_letter"), ("civil_documents", "family_card_extract"))
# A domicile letter states its purpose; at a kiosk the citizen picks one, never types.
# The letter is in Indonesian, whatever language the screen speaks.
PURPOSES = {"general": "umum", "school": "pendaftaran sekolah",
            "bank": "pembukaan rekening bank", "work": "melamar pekerjaan"}


def card(assurance: str | None = None) -> Any:
    return require_card(KIOSK, "kiosk.idle", assurance)


@blueprint.get("/")
def idle() -> str:
    reason = request.args.get("problem")
    return render("kiosk/idle.html", SCREEN, problem=advice(reason) if reason else None)


@blueprint.post("/session")
def hand_over() -> Response:
    return visit.hand_over(KIOSK, "kiosk.home")


@blueprint.post("/end")
def end() -> Response:
    return visit.end_visit(KIOSK, "kiosk.idle")


@blueprint.get("/home")
def home() -> str:
    principal = card()
    overview = programmes_for(principal)
    commit()
    return render("kiosk/home.html", SCREEN, overview=overview, needs_card=True,
                  with_pin=principal.card.assurance == "pin",
                  tap_locked=taplock.tap_locked(session(), principal.card.card_serial))


@blueprint.get("/pin")
def pin() -> str:
    return render("kiosk/pin.html", SCREEN, needs_card=True,
                  why=request.args.get("why", "more"))


@blueprint.get("/more")
def more() -> str:
    principal = card("pin")
    locked = taplock.tap_locked(session(), principal.card.card_serial)
    session().rollback()
    return render("kiosk/more.html", SCREEN, needs_card=True, tap_locked=locked,
                  notice=request.args.get("notice"), purposes=PURPOSES,
                  key=secrets.token_urlsafe(16))


@blueprint.post("/statement")
def print_statement() -> Response:
    principal = card("pin")
    overview = programmes_for(principal)
    holder = session().get(Citizen, principal.card.citizen_id)
    content = statement.statement_content(
        holder.full_name if holder else "",
        [p.model_dump(mode="json") for p in overview.programmes])
    issued = statement.issue_statement(session(), content,
                                       citizen_id=principal.card.citizen_id,
                                       terminal_id=principal.terminal_id)
    pdf = verification.pdf_of(session(), issued.document)
    commit()
    return _pdf(pdf, f"{issued.document.number}.pdf")


@blueprint.get("/access-log")
def access_log() -> str:
    principal = card("pin")
    entries = own_access_log(principal.card.citizen_id, "citizen viewed own access log "
                             "at a kiosk", limit=50)
    commit()
    return render("kiosk/access_log.html", SCREEN, needs_card=True,
                  entries=[e for e in entries if not e.by_you])


@blueprint.post("/documents/<module>/<action>")
def request_document(module: str, action: str) -> BaseResponse:
    principal = card("pin")
    if (module, action) not in DOCUMENTS:
        return redirect(url_for("kiosk.more"), 303)
    key = request.form.get("key", "")
    given = {"purpose": PURPOSES.get(request.form.get("purpose", ""), "umum")} \
        if action == "domicile_letter" else {}
    try:
        answer, _ = perform(principal, module, action, key or None,
                            lambda a: parse_model(a.input, given))
    except ApiError as error:
        session().rollback()
        # The visit goes on: the refusal is recorded as the API records its own, and
        # shown with the way to appeal it (the appeal names the record).
        seq = record_screen_refusal(principal, REFUSED_ACTION, error,
                                    {"key": module, "action_name": action})
        return redirect(url_for("kiosk.refused", reason=error.reason.value, programme=module,
                                refusal=seq or ""), 303)
    document = verification.find(session(), answer["document"]["public_id"])
    pdf = verification.pdf_of(session(), document)
    commit()
    return _pdf(pdf, f"{document.number}.pdf")


@blueprint.post("/tap-lock")
def tap_lock() -> BaseResponse:
    principal = card("pin")
    locked = request.form.get("locked") == "1"
    taplock.set_tap_lock(session(), principal, locked)
    commit()
    return redirect(url_for("kiosk.more", notice="locked" if locked else "unlocked"), 303)


def _pdf(pdf: bytes, filename: str) -> Response:
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{filename}"'})
