"""Appeals endpoints: a citizen files and reads their own; clerks and admins take,
hand on and resolve them; auditors read the queue.

Every rule is in `backend.grievances.service` and `subjects`; these views translate
HTTP to it. A citizen files with the card and PIN at a kiosk or a counter (the channel
is the terminal's kind).
"""

from __future__ import annotations

from backend.api.routing import Api
from backend.auth.principal import Principal, Requirement, current_principal
from backend.db import session
from backend.errors import ApiError
from backend.grievances import service, subjects
from backend.grievances.schemas import (
    AppealDetail,
    AppealOut,
    AppealsOut,
    AssignIn,
    FiledOut,
    FileIn,
    QueueItemOut,
    QueueOut,
    QueueQuery,
    RefusalOut,
    RefusalsOut,
    ResolveIn,
)
from backend.reasons import Reason as R
from backend.registry.models import Citizen

api = Api("grievances", url_prefix="/grievances", tag="grievances")

CITIZEN = Requirement(terminal_kinds=("kiosk", "counter"), card=True, assurance="pin")
HANDLERS = Requirement(roles=service.HANDLERS)
ASSIGNEES = Requirement(roles=service.ASSIGNEES)
READERS = Requirement(roles=(*service.HANDLERS, "auditor"))
HANDLE_REFUSALS = (R.NOT_FOUND, R.GRIEVANCE_RESOLVED)


def _caller() -> Principal:
    principal = current_principal()
    assert principal is not None
    return principal


def _channel(principal: Principal) -> str:
    """Where it was filed: the terminal's kind (CITIZEN admits kiosks and counters)."""
    kind = principal.terminal_kind
    if kind not in CITIZEN.terminal_kinds:
        raise ApiError(R.TERMINAL_KIND_NOT_ALLOWED, f"appeals are filed at a kiosk or a "
                       f"counter, not at a {kind or 'terminal of no kind'}", 403)
    return str(kind)


def detail(row: service.Grievance) -> AppealDetail:
    """One appeal as staff see it (the caller has recorded the read)."""
    citizen = session().get(Citizen, row.citizen_id)
    assert citizen is not None
    return AppealDetail(
        **QueueItemOut.of(row, service.utcnow()).model_dump(), citizen_id=row.citizen_id,
        full_name=citizen.full_name, national_number=citizen.national_number,
        words=row.words, terminal_id=row.terminal_id, refusal_terminal=row.refusal_terminal,
        filed_by=row.filed_by, assigned_by=row.assigned_by, assigned_at=row.assigned_at,
        outcome=row.outcome, resolution=row.resolution, resolved_by=row.resolved_by,
        resolved_at=row.resolved_at)


@api.route("", "POST", summary="File the card holder's appeal against a refusal or a "
           "receipt", auth=CITIZEN, body=FileIn, response=FiledOut,
           reasons=(R.GRIEVANCE_SUBJECT_INVALID, R.VALIDATION_FAILED))
def file_appeal(body: FileIn) -> FiledOut:
    """Due GRIEVANCE_RESOLUTION_DAYS after the city's day of filing. While an appeal about
    the same subject is not resolved, filing again answers that one (`already_open`
    true) rather than queueing a second, so a filing sent twice files once."""
    principal = _caller()
    assert principal.card is not None
    citizen_id = principal.card.citizen_id
    subject = subjects.of_filing(session(), body, citizen_id)
    filed = service.file_appeal(session(), principal, citizen_id=citizen_id,
                                channel=_channel(principal), subject=subject,
                                words=body.words)
    return FiledOut(appeal=AppealOut.of(filed.grievance), already_open=not filed.created)


@api.route("/refusals", summary="The card holder's refusals that may be appealed, newest "
           "first", auth=CITIZEN, response=RefusalsOut)
def my_refusals() -> RefusalsOut:
    """Each with the number to file an appeal with; from the last year. This look is
    recorded in the audit log."""
    principal = _caller()
    assert principal.card is not None
    return RefusalsOut(items=[RefusalOut.of(refusal) for refusal in service.own_refusals(
        session(), principal)])


@api.route("/mine", summary="The card holder's own appeals, newest first", auth=CITIZEN,
           response=AppealsOut)
def my_appeals() -> AppealsOut:
    """Status, due date, and once resolved the outcome and its reason; who handles it is
    the city's business, not shown. This look is recorded in the audit log."""
    return AppealsOut(items=[AppealOut.of(row) for row in service.own(session(), _caller())])


@api.route("", summary="Appeals to handle, the earliest due (the overdue) first",
           auth=READERS, query=QueueQuery, response=QueueOut)
def queue(query: QueueQuery) -> QueueOut:
    """No names or words here: open one appeal for those (a recorded read)."""
    now = service.utcnow()
    rows = service.queue(session(), status=query.status, limit=query.limit,
                         offset=query.offset)
    return QueueOut(items=[QueueItemOut.of(row, now) for row in rows])


@api.route("/<int:grievance_id>", summary="One appeal, with the citizen's name and words",
           auth=READERS, response=AppealDetail, reasons=(R.NOT_FOUND,))
def show(grievance_id: int) -> AppealDetail:
    """Recorded as a read of the citizen's data: they see it in "who saw my data"."""
    return detail(service.open_for_staff(session(), _caller(), grievance_id))


@api.route("/<int:grievance_id>/assign", "POST", summary="Take an appeal (a clerk), or "
           "hand it to a clerk", auth=HANDLERS, body=AssignIn, response=AppealDetail,
           reasons=(*HANDLE_REFUSALS, R.GRIEVANCE_ASSIGNEE_INVALID))
def assign(grievance_id: int, body: AssignIn) -> AppealDetail:
    """Appeals are worked at the counter, which admits clerks: an admin hands one to a
    clerk, and giving one to an admin is refused (`grievance_assignee_invalid`)."""
    row = service.assign(session(), _caller(), grievance_id, body.to)
    return detail(service.open_for_staff(session(), _caller(), row.id))


@api.route("/<int:grievance_id>/resolve", "POST", summary="Resolve an appeal with its "
           "outcome and the reason the citizen reads", auth=ASSIGNEES, body=ResolveIn,
           response=AppealDetail,
           reasons=(*HANDLE_REFUSALS, R.GRIEVANCE_NOT_ASSIGNEE, R.VALIDATION_FAILED))
def resolve(grievance_id: int, body: ResolveIn) -> AppealDetail:
    """Only its assignee resolves it (`grievance_not_assignee`); once resolved it stays
    so (`grievance_resolved`)."""
    row = service.resolve(session(), _caller(), grievance_id, body.outcome, body.reason)
    return detail(service.open_for_staff(session(), _caller(), row.id))
