"""The citizen's appeals at the kiosk: against the refusal just shown, or a receipt in
the latest transactions; and "My appeals", with the answer once there is one.

All with the PIN. The pages call what the API calls (`backend.grievances`): the same
checks of what is appealed, one open appeal per subject, the same audit records.
"""

from __future__ import annotations

from flask import redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from admin.common import render
from admin.common.appeals import refusal_advice
from admin.common.messages import advice
from admin.kiosk.views import SCREEN, blueprint, card
from backend.api.routing import commit, parse_model
from backend.audit.refusals import record_screen_refusal
from backend.db import session
from backend.errors import ApiError
from backend.grievances import service, subjects
from backend.grievances.schemas import AppealOut, FileIn

FILING_REFUSED = "kiosk.grievances.file_appeal"


def _recorded(citizen_id: int, number: str) -> subjects.Refusal | None:
    """The refusal the kiosk recorded and named in the address, if it is this citizen's
    (the address is the citizen's to edit: only their own recorded refusal is offered)."""
    if not number.isdigit():
        return None
    try:
        return subjects.refusal(session(), citizen_id, int(number), service.utcnow())
    except ApiError:
        return None


@blueprint.get("/refused")
def refused() -> str:
    """A refusal of something the citizen asked for here, with the way to appeal it."""
    principal = card("pin")
    assert principal.card is not None
    found = _recorded(principal.card.citizen_id, request.args.get("refusal", ""))
    session().rollback()
    # Its words from the record when there is one; else from the address (no appeal).
    reason = found.reason if found else request.args.get("reason", "")
    programme = found.programme if found else request.args.get("programme", "")
    return render("kiosk/refused.html", SCREEN, needs_card=True,
                  problem=refusal_advice(reason, programme), refusal=found)


@blueprint.post("/appeals")
def file_appeal() -> BaseResponse:
    principal = card("pin")
    assert principal.card is not None
    given = {key: value for key, value in request.form.items()
             if key in FileIn.model_fields and value != ""}
    try:
        body = parse_model(FileIn, given)
        assert isinstance(body, FileIn)
        subject = subjects.of_filing(session(), body, principal.card.citizen_id)
        filed = service.file_appeal(session(), principal, citizen_id=principal.card.citizen_id,
                                    channel="kiosk", subject=subject, words=body.words)
    except ApiError as error:
        session().rollback()
        record_screen_refusal(principal, FILING_REFUSED, error)
        return redirect(url_for("kiosk.my_appeals", problem=error.reason.value), 303)
    commit()
    notice = "filed" if filed.created else "already_open"
    return redirect(url_for("kiosk.my_appeals", notice=notice, shown=filed.grievance.id), 303)


@blueprint.get("/appeals")
def my_appeals() -> str:
    principal = card("pin")
    appeals = [AppealOut.of(row) for row in service.own(session(), principal)]
    commit()
    problem = request.args.get("problem")
    return render("kiosk/appeals.html", SCREEN, needs_card=True, appeals=appeals,
                  notice=request.args.get("notice"), shown=request.args.get("shown", ""),
                  problem=advice(problem) if problem else None)
