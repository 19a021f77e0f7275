"""`/audit/`: search the log, a record, verify the chain, export a range, the checkpoints.

Every page is for auditors and admins (`require_staff`). Verifying, exporting and the
public key are the very functions the audit API runs (`backend.audit.api`), called
with the signed-in staff member as the request's principal, so what they check, return
and record is the API's. Searching needs filters the API's `/audit/records` does not
have, so the page runs its own query (`search.py`) and records the read as that route
does: `audit.log.read`, purpose "audit", the citizen searched for (so the search shows
in that citizen's access log).

Nothing here changes data. The only writes are the audit records of reading, verifying
and exporting; the search form is posted only to keep national numbers out of URLs.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import (
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from pydantic import ValidationError
from sqlalchemy import Connection, select
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from admin.audit import search, words
from admin.common import screen_blueprint
from admin.common.staff import require_staff
from backend.api.routing import MAX_INT, commit
from backend.audit import api as audit_api
from backend.audit import checkpoints as cp
from backend.audit.models import AuditCheckpoint
from backend.audit.reading import chained_connection
from backend.audit.record import record
from backend.db import session
from backend.errors import ApiError

blueprint = screen_blueprint("audit", __name__, "/audit")
ROLES = ("auditor", "admin")
SCREEN = "audit"
CHECKPOINTS_PER_PAGE = 50
EXPORT_FORMATS = ("jsonl", "pdf")
_CP = AuditCheckpoint.__table__


@blueprint.before_request
def _auditors_only() -> None:
    """Auditors and admins; the page's principal is theirs, as the API's would be."""
    if request.endpoint == "audit.static":
        return
    g.principal = require_staff(ROLES)


@blueprint.teardown_request
def _forget_who(_error: BaseException | None) -> None:
    """The request's identity ends with it (a test client shares one app context)."""
    g.pop("principal", None)
    g.pop("staff", None)


@blueprint.errorhandler(403)
@blueprint.errorhandler(404)
def _problem(error: HTTPException) -> Response:
    """Another role's account, or a record that does not exist: said in words."""
    code = error.code or 404
    if code == 403:
        problem = {"title": _("The audit log is for auditors and administrators"),
                   "advice": _("This account cannot open it. Sign in with an auditor's "
                               "account, or go back to your own screen."),
                   "back": _("Go to my screen")}
        back = url_for("staff.index")
    else:
        problem = {"title": _("There is no such page in the audit log"),
                   "advice": _("Check the record's number, or search the log for it."),
                   "back": _("Search the audit log")}
        back = url_for("audit.index")
    return _page("audit/problem.html", code, problem=problem, code=code, back=back)


def _page(template: str, status: int = 200, **context: Any) -> Response:
    context.setdefault("errors", [])
    html = render_template(template, screen=SCREEN, words=words, **context)
    return Response(html, status=status)


def _before(name: str) -> int | None:
    raw = request.args.get(name, "")
    return int(raw) if raw.isdigit() and 0 < int(raw) <= MAX_INT else None


# --- search ----------------------------------------------------------------------

@blueprint.get("/")
def index() -> Response:
    conn = chained_connection()
    filters, problems = search.read_filters(request.args, conn, by_number=False)
    return _results(conn, filters, problems, _before("before"))


@blueprint.post("/")
def search_post() -> BaseResponse:
    """The form names the citizen by national number; the results page, by id."""
    conn = chained_connection()
    filters, problems = search.read_filters(request.form, conn, by_number=True)
    if problems:
        number = (request.form.get("national_number") or "").strip()[:40]
        return _results(conn, filters, problems, None, typed_number=number)
    return redirect(url_for("audit.index", **filters.query_args()), 303)


def _results(conn: Connection, filters: search.Filters, problems: list[search.Problem],
             before: int | None, typed_number: str | None = None) -> Response:
    number = typed_number
    if number is None and filters.citizen is not None:
        number = search.numbers_of(conn, [filters.citizen]).get(filters.citizen)
    form = {"national_number": number or "", "staff": filters.staff or "",
            "terminal": filters.terminal or "", "action": filters.action or "",
            "from": filters.start or "", "to": filters.end or ""}
    errors = [{"field": p.field, "text": p.text} for p in problems]
    if errors:
        return _page("audit/search.html", 400, form=form, errors=errors, rows=None,
                     filters=filters)
    rows, older = search.records(conn, filters, before)
    numbers = search.numbers_of(conn, [r["citizen_id"] for r in rows if r["citizen_id"]])
    record(session(), action="audit.log.read", citizen_id=filters.citizen,
           subject_type="audit_log", purpose="audit",
           details=search.read_details(filters, before, len(rows)))
    commit()
    return _page("audit/search.html", form=form, rows=rows, numbers=numbers, older=older,
                 paged=before is not None, filters=filters,
                 searched=bool(filters.query_args()))


@blueprint.get("/records/<int:seq>")
def record_page(seq: int) -> Response:
    conn = chained_connection()
    found = search.one_record(conn, seq) if seq <= MAX_INT else None
    if found is None:
        abort(404)
    number = search.numbers_of(conn, [found["citizen_id"]]).get(found["citizen_id"]) \
        if found["citizen_id"] else None
    record(session(), action="audit.log.read", citizen_id=found["citizen_id"],
           subject_type="audit_record", subject_id=str(seq), purpose="audit",
           details={"seq": seq, "screen": "audit"})
    commit()
    return _page("audit/record.html", row=found, number=number,
                 details=_pretty(found["details"]))


def _pretty(details: str) -> str:
    try:
        return json.dumps(json.loads(details), indent=2, ensure_ascii=False, sort_keys=True)
    except ValueError:
        return details


# --- verify ----------------------------------------------------------------------

@blueprint.get("/verify")
def verify_page() -> Response:
    return _page("audit/verify.html", report=None)


@blueprint.post("/verify")
def verify_now() -> Response:
    """POST /api/v1/audit/verify's own function: the same checks, the same record."""
    report = audit_api.verify_now()
    commit()
    findings = report.findings
    on_records = [f.position for f in findings if f.kind in words.RECORD_FINDINGS]
    first = min(on_records) if on_records else (findings[0].position if findings else None)
    return _page("audit/verify.html", report=report, first=first, ran_at=datetime.now(UTC))


# --- export ----------------------------------------------------------------------

def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat((value or "").strip()[:10])
    except ValueError:
        return None


@blueprint.get("/export")
def export_page() -> Response:
    today = datetime.now(words.zone()).date()
    return _page("audit/export.html", form={"from": (today - timedelta(days=6)).isoformat(),
                                            "to": today.isoformat(), "format": "jsonl"})


@blueprint.get("/export/download")
def download() -> Response:
    """GET /api/v1/audit/export's own function, for whole days of the city's time."""
    form = {"from": request.args.get("from", "")[:10], "to": request.args.get("to", "")[:10],
            "format": request.args.get("format", "jsonl")}
    first, last = _day(form["from"]), _day(form["to"])
    errors = []
    if first is None:
        errors.append({"field": "from", "text": _("Enter the first day, for example "
                                                  "01/11/2026.")})
    if last is None:
        errors.append({"field": "to", "text": _("Enter the last day, for example "
                                                "30/11/2026.")})
    if form["format"] not in EXPORT_FORMATS:
        errors.append({"field": "format-jsonl", "text": _("Choose JSON Lines or PDF.")})
    if first and last and last < first:
        errors.append({"field": "to", "text": _("The last day must not be before the "
                                                "first day."), "reason": "audit_range_invalid"})
    if errors:
        return _page("audit/export.html", 400, form=form, errors=errors)
    assert first is not None and last is not None
    start, end = _utc_midnight(first), _utc_midnight(last + timedelta(days=1))
    try:
        query = audit_api.ExportQuery.model_validate(
            {"from": start, "to": end, "format": form["format"]})
        answer = audit_api.export_range(query)
    except (ApiError, ValidationError) as error:  # refused before anything was recorded
        reason = error.reason.value if isinstance(error, ApiError) else "validation_failed"
        return _page("audit/export.html", 400, form=form, errors=[
            {"field": "from", "text": _("That range cannot be exported."), "reason": reason}])
    commit()
    answer.headers["Content-Disposition"] = (
        f'attachment; filename="audit-{first:%Y%m%d}-{last:%Y%m%d}.{form["format"]}"')
    return answer


def _utc_midnight(day: date) -> str:
    """The start of a city day as a UTC time (stored times are UTC)."""
    return datetime.combine(day, time(0), words.zone()).astimezone(UTC).isoformat()


# --- checkpoints -----------------------------------------------------------------

@blueprint.get("/checkpoints")
def checkpoints_page() -> Response:
    """Newest first, each with whether its signature verifies with the hub's key."""
    before = _before("before")
    query = select(_CP).order_by(_CP.c.size.desc(), _CP.c.id.desc()) \
        .limit(CHECKPOINTS_PER_PAGE + 1)
    if before is not None:
        query = query.where(_CP.c.size < before)
    rows = session().execute(query).all()
    ring = cp.keyring(current_app.config, create=False)
    marks = [_checkpoint(row, ring.publics()) for row in rows[:CHECKPOINTS_PER_PAGE]]
    older = marks[-1]["size"] if len(rows) > CHECKPOINTS_PER_PAGE else None
    return _page("audit/checkpoints.html", marks=marks, older=older, paged=before is not None,
                 key_id=ring.current.key_id if ring.current is not None else None)


def _checkpoint(row: Any, publics: dict[str, Any]) -> dict[str, Any]:
    """A stored checkpoint, read from its signed text (what the signature covers), checked
    with the key whose id it records (current or retired)."""
    try:
        size, head, at = cp.parse_body(row.body)
    except ValueError:
        size, head, at, status = row.size, bytes(row.head), row.at, "unreadable"
    else:
        mark = cp.Checkpoint(size, head, at, row.body, bytes(row.signature), "table")
        public = publics.get(row.key_id)
        status = "no_key" if public is None else \
            "valid" if cp.signature_valid(public, mark) else "invalid"
    return {"id": row.id, "size": size, "head": head.hex(), "at": at, "status": status,
            "key_id": row.key_id}


def _stored_checkpoint(checkpoint_id: int) -> cp.Checkpoint:
    row = session().execute(select(_CP).where(_CP.c.id == checkpoint_id)).first() \
        if checkpoint_id <= MAX_INT else None
    if row is None:
        abort(404)
    try:
        size, head, at = cp.parse_body(row.body)
    except ValueError:
        size, head, at = row.size, bytes(row.head), row.at
    return cp.Checkpoint(size, head, at, row.body, bytes(row.signature), "table")


@blueprint.get("/checkpoints/<int:checkpoint_id>.txt")
def checkpoint_text(checkpoint_id: int) -> Response:
    """The exact signed text, named as in the checkpoint directory."""
    mark = _stored_checkpoint(checkpoint_id)
    return _attachment(mark.body.encode("utf-8"), f"{mark.name}.txt", "text/plain")


@blueprint.get("/checkpoints/<int:checkpoint_id>.sig")
def checkpoint_signature(checkpoint_id: int) -> Response:
    """The raw 64-byte Ed25519 signature of that text."""
    mark = _stored_checkpoint(checkpoint_id)
    return _attachment(mark.signature, f"{mark.name}.sig", "application/octet-stream")


@blueprint.get("/public-key.pem")
def public_key() -> Response:
    """GET /api/v1/audit/public-key's own function, as a file to keep."""
    answer = audit_api.public_key()
    answer.headers["Content-Disposition"] = f'attachment; filename="{cp.PUBLIC_KEY_FILE}"'
    return answer


def _attachment(body: bytes, name: str, mimetype: str) -> Response:
    return Response(body, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
