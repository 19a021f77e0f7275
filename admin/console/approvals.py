"""Approvals: what one admin asked for and a second admin decides, and stopping many cards.

Every rule is `backend.approvals.service`'s: the page shows the Approve and Reject
buttons only when `schemas.detail(...).can_decide` says so, and otherwise the reason the
service would give; a forged POST is refused by the service all the same (403). An
approval here carries the request out at once (`service.carry_out`, in the same
transaction): a bulk revocation becomes a queued job to follow on the Jobs pages.

Stopping many cards goes through `backend.cards.bulk.revoke_many`, the API's one way
in: at most APPROVAL_REVOKE_THRESHOLD cards are stopped now, more become a request a
second admin must approve. The admin types the number of cards to confirm it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask import abort, current_app, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import FileStorage

from admin.console import cards as console_cards
from admin.console import once, words
from admin.console.blueprint import admin, blueprint, page
from backend.api.routing import MAX_INT
from backend.approvals import schemas, service
from backend.approvals.models import ApprovalRequest
from backend.cards import bulk as card_bulk
from backend.cards.lifecycle import REVOKE_REASONS, normalise_serial
from backend.db import session
from backend.errors import ApiError
from backend.reasons import Reason

Errors = list[dict[str, str]]
MAX_NOTE = 500
MAX_COMMENT = service.MAX_NOTE
SAMPLE = 20  # serials shown of a long list
SHOWN_BAD_LINES = 5
CELLS = re.compile(r"[,;\t]")
HEADERS = {"serial", "serials", "card", "card serial", "card_serial"}

STATUS = {
    "pending": _l("Waiting for a second administrator"),
    "approved": _l("Approved, not yet carried out"),
    "rejected": _l("Rejected"),
    "cancelled": _l("Withdrawn by the person who asked"),
    "expired": _l("Expired: nobody decided in time"),
    "carried_out": _l("Approved and carried out"),
}
STATUS_TAG = {"pending": "warn", "approved": "good", "carried_out": "good",
              "rejected": "bad", "cancelled": "bad", "expired": "bad"}
KIND = {"cards.revoke": _l("Stop many cards"),
        "registry.import": _l("Import a registry file"),
        "programme.change": _l("Change a programme")}
# Why a decision is refused, in plain words (the service's reason codes).
REFUSED = {
    Reason.OWN_REQUEST: _l("You asked for this, so a second administrator must approve or "
                           "reject it."),
    Reason.NOT_ASSIGNEE: _l("This request was handed to %(who)s: only they decide it now."),
    Reason.APPROVAL_NOT_PENDING: _l("This request is no longer waiting for a decision."),
    Reason.APPROVAL_EXPIRED: _l("This request waited too long and has expired. Ask again."),
    Reason.ROLE_NOT_ALLOWED: _l("Only an administrator decides requests."),
    Reason.NOT_MAKER: _l("Only the administrator who asked may withdraw this request."),
    Reason.APPROVAL_NOT_APPROVED: _l("Only an approved request can be carried out."),
    Reason.APPROVAL_MISMATCH: _l("The stored request no longer matches what was approved, "
                                 "so it will not be carried out. Ask again."),
}


def status_words(status: str) -> str:
    return str(STATUS.get(status, status))


def kind_words(kind: str) -> str:
    return str(KIND.get(kind, kind))


def refused_words(reason: Any, assignee: str | None = None) -> str:
    """The plain sentence for a refusal of the approval service (its reason code)."""
    try:
        known = REFUSED.get(Reason(str(reason)))
    except ValueError:
        known = None
    if known is None:
        problem = words.GENERIC
        return f"{problem[0]}. {problem[1]}"
    return str(known) % {"who": assignee or ""}


@blueprint.context_processor
def _approval_words() -> dict[str, Any]:
    return {"approval_status": status_words, "approval_kind": kind_words,
            "APPROVAL_TAG": STATUS_TAG}


# --- the list and one request ------------------------------------------------------------


@blueprint.get("/approvals")
def approvals() -> tuple[str, int]:
    """Requests, pending first (oldest waiting first), then the newest of the rest."""
    rows = service.list_requests(session(), limit=100)
    shown = schemas.views(session(), rows, admin())
    session().rollback()
    return page("console/approvals.html", requests=shown,
                notice=_("Nothing was stopped.") if request.args.get("done") == "none"
                else None)


def _history(row: ApprovalRequest) -> list[tuple[Any, str, str]]:
    """(when, what, who) of the request's steps, from the request itself."""
    steps = [(row.created_at, _("Asked for"), row.maker)]
    if row.decided_at is not None:
        decided = _("Approved") if row.status in ("approved", "carried_out") else _("Rejected")
        steps.append((row.decided_at, decided, row.checker or ""))
    if row.carried_out_at is not None:
        steps.append((row.carried_out_at, _("Carried out"), row.carried_out_by or ""))
    if row.closed_at is not None:
        steps.append((row.closed_at, status_words(row.status),
                      row.maker if row.status == "cancelled" else ""))
    return steps


def _asked(row: ApprovalRequest) -> dict[str, Any]:
    """What was asked, for the page: a revocation's count, reason and sample."""
    payload = service.payload_of(row)
    if row.kind != card_bulk.KIND:
        return {"payload": payload}
    serials = payload.get("serials", [])
    return {"payload": payload, "count": len(serials), "sample": serials[:SAMPLE],
            "reason": payload.get("reason"), "note": payload.get("note", "")}


NOTICES = {"asked": _l("Your request is stored. Nothing is done until a second "
                       "administrator approves it."),
           "approved": _l("You approved the request and it is being carried out."),
           "rejected": _l("You rejected the request. It will never be carried out."),
           "cancelled": _l("You withdrew the request. It will never be carried out."),
           "carried_out": _l("The request is being carried out.")}


def _get(request_id: int) -> ApprovalRequest:
    """The request, or the not-found page (for an id no database column could hold too)."""
    if request_id > MAX_INT:
        abort(404)
    return service.get_request(session(), request_id)


def _request_page(request_id: int, status: int = 200, **context: Any) -> tuple[str, int]:
    row = _get(request_id)
    shown = schemas.detail(session(), row, admin())
    history = _history(row)
    asked = _asked(row)
    refusal = None
    if not shown.can_decide and shown.cannot_decide is not None:
        refusal = refused_words(shown.cannot_decide.reason, row.assigned_to)
    done = request.args.get("done") or ""
    context.setdefault("notice", str(NOTICES[done]) if done in NOTICES else None)
    session().rollback()
    return page("console/approval.html", status, approval=shown, history=history,
                asked=asked, refusal=refusal, **context)


@blueprint.get("/approvals/<int:request_id>")
def approval(request_id: int) -> tuple[str, int]:
    return _request_page(request_id)


def _comment() -> tuple[str, Errors]:
    comment = request.form.get("comment", "").strip()
    if len(comment) > MAX_COMMENT:
        return comment, [{"field": "comment", "text": _("Enter a comment of at most "
                                                        "%(n)d characters", n=MAX_COMMENT)}]
    return comment, []


def _refusal_errors(error: ApiError, field: str = "") -> Errors:
    assignee = (error.details or {}).get("to") if isinstance(error.details, dict) else None
    if error.reason in REFUSED:
        return [{"field": field, "text": refused_words(error.reason, assignee)}]
    problem = words.refusal(error)
    return [{"field": problem.field or field, "text": f"{problem.title}. {problem.next_step}"}]


def _decided(request_id: int, act: Any, done: str) -> Any:
    """POST approve/reject/carry out: once, through the service; a refusal is the
    request's page with the error summary and the refusal's status (403 to the maker)."""
    comment, errors = _comment()
    if errors:
        return _request_page(request_id, 400, errors=errors, comment=comment)
    _get(request_id)  # an unknown request: the 404 page
    repeated = once.claim()
    if repeated is not None:
        return repeated
    try:
        act(comment)
    except ApiError as error:
        session().rollback()
        field = "comment" if error.reason == Reason.VALIDATION_FAILED else ""
        errors = ([{"field": "comment", "text": _("Write why you reject the request")}]
                  if field and not comment else _refusal_errors(error, field))
        return _request_page(request_id, error.status, errors=errors, comment=comment)
    return once.finish(redirect(url_for("console.approval", request_id=request_id,
                                        done=done), 303))


@blueprint.post("/approvals/<int:request_id>/approve")
def approval_approve(request_id: int) -> Any:
    """Approve, then carry it out in the same transaction (a bulk job is queued)."""
    def act(comment: str) -> None:
        service.approve(session(), request_id, admin(), comment)
        service.carry_out(session(), request_id, admin())

    return _decided(request_id, act, "approved")


@blueprint.post("/approvals/<int:request_id>/reject")
def approval_reject(request_id: int) -> Any:
    return _decided(request_id, lambda comment: service.reject(session(), request_id,
                                                                 admin(), comment),
                    "rejected")


@blueprint.post("/approvals/<int:request_id>/carry-out")
def approval_carry_out(request_id: int) -> Any:
    """An approved request not yet carried out (approved through the API, say)."""
    return _decided(request_id, lambda _comment: service.carry_out(session(), request_id,
                                                                   admin()),
                    "carried_out")


@blueprint.route("/approvals/<int:request_id>/cancel", methods=["GET", "POST"])
def approval_cancel(request_id: int) -> Any:
    """The maker withdraws their request: GET says what happens, POST does it once."""
    if request.method == "GET":
        shown = schemas.detail(session(), _get(request_id), admin())
        session().rollback()
        return page("console/approval_cancel.html", approval=shown)
    comment, errors = _comment()
    if errors:
        return _request_page(request_id, 400, errors=errors)
    _get(request_id)
    repeated = once.claim()
    if repeated is not None:
        return repeated
    try:
        service.cancel(session(), request_id, admin(), comment)
    except ApiError as error:
        session().rollback()
        return _request_page(request_id, error.status, errors=_refusal_errors(error))
    return once.finish(redirect(url_for("console.approval", request_id=request_id,
                                        done="cancelled"), 303))


# --- stopping many cards -------------------------------------------------------------------


@dataclass
class Asked:
    """The bulk revocation form as sent: serials read from the box and the file."""

    serials: list[str]
    reason: str
    note: str
    text: str


def _file_text(upload: FileStorage | None) -> tuple[str, Errors]:
    if upload is None or not upload.filename:
        return "", []
    try:
        return upload.read().decode("utf-8-sig"), []
    except UnicodeDecodeError:
        return "", [{"field": "file", "text": _("The file must be a text or CSV file (UTF-8) "
                                                "with one card serial a line")}]


def read_serials(text: str) -> tuple[list[str], list[int]]:
    """The serials in `text`, one a line (or in a CSV's cells), in order, each kept once;
    and the numbers of the lines that hold something that is not a serial. A CSV's
    header cell ("serial") is skipped."""
    found: dict[str, None] = {}
    bad: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        for cell in CELLS.split(line):
            cell = cell.strip().strip('"').strip()
            if not cell or cell.lower() in HEADERS:
                continue
            serial = normalise_serial(cell)
            if card_bulk.SERIAL.fullmatch(serial):
                found.setdefault(serial, None)
            elif number not in bad:
                bad.append(number)
    return list(found), bad


def _serial_errors(serials: list[str], bad: list[int]) -> Errors:
    if bad:
        lines = ", ".join(str(n) for n in bad[:SHOWN_BAD_LINES])
        return [{"field": "serials", "text": _("These lines hold something that is not a "
                                               "card serial: %(lines)s", lines=lines)}]
    if not serials:
        return [{"field": "serials", "text": _("Enter the serials of the cards to stop, one a "
                                               "line, or choose a file of them")}]
    if len(serials) > card_bulk.MAX_SERIALS:
        return [{"field": "serials", "text": _("Enter at most %(n)d serials at once",
                                               n=card_bulk.MAX_SERIALS)}]
    return []


def _asked_now() -> tuple[Asked, Errors]:
    """The form, read and checked the way the page needs (the service checks again)."""
    uploaded, errors = _file_text(request.files.get("file"))
    text = request.form.get("serials", "")
    combined = "\n".join(part for part in (text, uploaded) if part)
    serials, bad = read_serials(combined)
    reason = request.form.get("reason", "")
    note = request.form.get("note", "").strip()
    if reason not in REVOKE_REASONS:
        errors.append({"field": "reason", "text": _("Choose why the cards are stopped")})
    errors = _serial_errors(serials, bad) + errors
    if len(note) > MAX_NOTE:
        errors.append({"field": "note", "text": _("Enter a note of at most 500 characters")})
    return Asked(serials, reason, note, "\n".join(serials) if serials else text), errors


def _bulk_form(status: int = 200, asked: Asked | None = None,
               errors: Errors | None = None) -> tuple[str, int]:
    return page("console/bulk_revoke.html", status, asked=asked,
                choices=console_cards.revoke_choices(), errors=errors or [],
                threshold=card_bulk.threshold())


def _bulk_check(asked: Asked, status: int = 200,
                errors: Errors | None = None) -> tuple[str, int]:
    return page("console/bulk_revoke_confirm.html", status, asked=asked,
                count=len(asked.serials), sample=asked.serials[:SAMPLE],
                threshold=card_bulk.threshold(),
                needs_second=len(asked.serials) > card_bulk.threshold(), errors=errors or [])


def _typed_count(expected: int) -> Errors:
    typed = request.form.get("count", "").strip()
    if not typed:
        return [{"field": "count", "text": _("Type the number of cards to confirm")}]
    if not typed.isdigit() or len(typed) > 9 or int(typed) != expected:
        return [{"field": "count", "text": _("The number you typed is not the number of "
                                             "cards. Type %(n)d to confirm", n=expected)}]
    return []


@blueprint.route("/approvals/stop-cards", methods=["GET", "POST"])
def bulk_revoke() -> Any:
    """GET: the serials and the reason. POST step=check: how many, typed to confirm.
    POST step=do: `revoke_many`, once: done now, or a request for a second admin."""
    if request.method == "GET":
        return _bulk_form()
    asked, errors = _asked_now()
    if errors:
        return _bulk_form(400, asked, errors)
    if request.form.get("step") != "do":
        return _bulk_check(asked)
    errors = _typed_count(len(asked.serials))
    if errors:
        return _bulk_check(asked, 400, errors)
    repeated = once.claim()
    if repeated is not None:
        return repeated
    try:
        started = card_bulk.revoke_many(session(), asked.serials, asked.reason, admin(),
                                        note=asked.note)
    except ApiError as error:
        session().rollback()
        return _bulk_form(max(error.status, 400), asked, _refusal_errors(error, "serials"))
    return once.finish(redirect(_after_bulk(started), 303))


def _after_bulk(started: card_bulk.RevokeStarted) -> str:
    if started.approval is not None:
        return url_for("console.approval", request_id=started.approval.id, done="asked")
    if started.job is not None:
        return url_for("console.job", job_id=started.job.id, done="started")
    current_app.logger.warning("bulk revocation with neither job nor request: %s",
                               started.outcome)
    return url_for("console.approvals", done="none")
