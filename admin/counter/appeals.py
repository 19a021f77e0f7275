"""Appeals at the counter: a clerk files one beside the citizen (card and PIN), and
works the queue of everyone's appeals (no card needed): the earliest due, so the
overdue, first; take one or hand it to a colleague; resolve it with an outcome and
the reason the citizen will read at a kiosk.

The queue shows no names; opening one appeal shows the citizen's name and words and
records that read (`backend.grievances.service.open_for_staff`), so the citizen sees
it under "Who saw my data". The rules are the API's: these pages call the same code.
"""

from __future__ import annotations

from typing import Any

from flask import redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response as BaseResponse

from admin.common.appeals import subject_words
from admin.counter.screen import (
    blueprint,
    card,
    clerk,
    clerk_at_counter,
    counter_advice,
    page,
    read,
    require_purpose,
)
from backend.api.routing import commit, parse_model
from backend.audit.refusals import record_screen_refusal
from backend.auth.principal import Principal
from backend.db import session
from backend.errors import ApiError
from backend.grievances import service, subjects
from backend.grievances.models import MAX_RESOLUTION, MAX_WORDS
from backend.grievances.schemas import AppealOut, FileIn, QueueItemOut
from backend.registry.models import Citizen

FILING_REFUSED = "counter.grievances.file_appeal"
SHOWN = ("full_name", "refusals")  # what the filing page shows of the citizen


def _colleagues(me: str) -> list[str]:
    """Whom an appeal may be handed to: the service's assignees but the clerk."""
    return [name for name in service.assignees(session()) if name != me]


@blueprint.context_processor
def _appeal_words() -> dict[str, Any]:
    """An appeal's subject in the counter's words (a staff member's, not a citizen's)."""
    return {"appeal_subject": lambda appeal: subject_words(appeal, counter_advice),
            "refusal_title": lambda reason: str(counter_advice(reason).title)}


# --- beside the citizen --------------------------------------------------------------


def _file_form(principal: Principal, purpose: str, errors: list[dict[str, Any]] | None = None,
               given: dict[str, str] | None = None, status: int = 200) -> tuple[str, int]:
    """The filing page: the citizen's recorded refusals to pick from, or a receipt."""
    assert principal.card is not None
    refusals = subjects.recorded_refusals(session(), principal.card.citizen_id,
                                          service.utcnow())
    read(principal, purpose, SHOWN)
    commit()
    return page("counter/appeal_new.html", refusals=refusals, given=given or {},
                errors=errors or [], max_words=MAX_WORDS), status


@blueprint.get("/appeal")
def appeal_new() -> tuple[str, int]:
    principal = card()
    return _file_form(principal, require_purpose(principal))


@blueprint.post("/appeal")
def appeal_file() -> BaseResponse | tuple[str, int]:
    principal = card()
    purpose = require_purpose(principal)
    assert principal.card is not None
    form = {k: v.strip() for k, v in request.form.items() if k != "csrf_token"}
    given: dict[str, Any] = {"subject": form.get("subject", ""), "words": form.get("words")}
    if given["subject"] == "refusal":
        given["refusal"] = form.get("refusal")
    elif given["subject"] == "receipt":
        given["entry_id"] = form.get("entry_id")
    try:
        body = parse_model(FileIn, {k: v for k, v in given.items() if v not in (None, "")})
        assert isinstance(body, FileIn)
        subject = subjects.of_filing(session(), body, principal.card.citizen_id)
        filed = service.file_appeal(session(), clerk_at_counter(principal),
                                    citizen_id=principal.card.citizen_id, channel="counter",
                                    subject=subject, words=body.words)
    except ApiError as error:
        session().rollback()
        record_screen_refusal(clerk_at_counter(principal), FILING_REFUSED, error)
        text = counter_advice(error.reason.value).title if error.reason.value != \
            "validation_failed" else _("Choose what the appeal is about and fill in its "
                                       "details")
        return _file_form(principal, purpose, [{"field": "subject-question",
                                                "text": str(text)}], form, 400)
    commit()
    return redirect(url_for("counter.citizen", notice="appeal_filed"
                            if filed.created else "appeal_open"), 303)


# --- the queue ------------------------------------------------------------------------


@blueprint.get("/appeals")
def appeals_queue() -> str:
    clerk()
    now = service.utcnow()
    rows = service.queue(session())
    session().rollback()
    return page("counter/appeals.html", needs_card=False,
                items=[QueueItemOut.of(row, now) for row in rows])


def _appeal_page(grievance_id: int, errors: list[dict[str, Any]] | None = None,
                 status: int = 200, notice: str | None = None) -> tuple[str, int]:
    me = clerk()
    row = service.open_for_staff(session(), me, grievance_id)
    person = session().get(Citizen, row.citizen_id)
    item = QueueItemOut.of(row, service.utcnow())
    colleagues = _colleagues(me.subject)
    commit()
    return page("counter/appeal.html", needs_card=False, item=item, row=row, person=person,
                appeal=AppealOut.of(row), me=me.subject, colleagues=colleagues,
                errors=errors or [], notice=notice, max_resolution=MAX_RESOLUTION,
                late=item.overdue), status


@blueprint.get("/appeals/<int:grievance_id>")
def appeal_show(grievance_id: int) -> tuple[str, int]:
    return _appeal_page(grievance_id, notice=request.args.get("notice"))


@blueprint.post("/appeals/<int:grievance_id>/assign")
def appeal_assign(grievance_id: int) -> BaseResponse | tuple[str, int]:
    me = clerk()
    to = request.form.get("to") or me.subject
    try:
        service.assign(session(), me, grievance_id, to)
    except ApiError as error:
        session().rollback()
        return _appeal_page(grievance_id, [{"field": "assign-to", "text": str(
            counter_advice(error.reason.value).title)}], 409)
    commit()
    notice = "taken" if to == me.subject else "handed_on"
    return redirect(url_for("counter.appeal_show", grievance_id=grievance_id, notice=notice),
                    303)


# The service's refusal of an answer (`details`: field, problem), beside its field.
RESOLVE_PROBLEMS = {
    ("outcome", "unknown"): ("outcome-upheld", _l("Choose the answer")),
    ("reason", "missing"): ("reason", _l("Write why: the citizen reads it")),
    ("reason", "too_long"): ("reason", _l("Write it in fewer words")),
}


def _resolve_problem(error: ApiError) -> tuple[dict[str, str], int]:
    found = RESOLVE_PROBLEMS.get((str(error.details.get("field")),
                                  str(error.details.get("problem"))))
    if found is not None:
        return {"field": found[0], "text": str(found[1])}, 400
    field = "outcome-upheld" if error.details.get("field") == "outcome" else "reason"
    status = 400 if error.status == 400 else 409
    return {"field": field, "text": str(counter_advice(error.reason.value).title)}, status


@blueprint.post("/appeals/<int:grievance_id>/resolve")
def appeal_resolve(grievance_id: int) -> BaseResponse | tuple[str, int]:
    """The rule's checks are the service's: its refusal is shown beside the field."""
    me = clerk()
    try:
        service.resolve(session(), me, grievance_id, request.form.get("outcome", ""),
                        request.form.get("reason", ""))
    except ApiError as error:
        session().rollback()
        problem, status = _resolve_problem(error)
        return _appeal_page(grievance_id, [problem], status)
    commit()
    return redirect(url_for("counter.appeal_show", grievance_id=grievance_id,
                            notice="resolved"), 303)
