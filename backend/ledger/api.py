"""Ledger endpoints: queue an allocation, agents' daily settlements, irregular patterns."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from pydantic import Field
from sqlalchemy import select

from backend.api.routing import Api, OutModel, StrictModel
from backend.auth.principal import Requirement, current_principal
from backend.db import session
from backend.errors import ApiError
from backend.ledger import patterns, settlement
from backend.ledger.models import AllocationRun
from backend.reasons import Reason

api = Api("ledger", url_prefix="/ledger", tag="ledger")
ADMIN = Requirement(roles=("admin",))
OVERSIGHT = Requirement(roles=("admin", "auditor"))
SETTLERS = Requirement(roles=("admin", "auditor"), terminal_kinds=("agent", "gate", "counter"))
# Auditors read the takings; only an admin or the terminal itself pays them out.
CLOSERS = Requirement(roles=("admin",), terminal_kinds=("agent", "gate", "counter"))
MAX_RANGE = timedelta(days=31)


class AllocationRequest(StrictModel):
    programme: str = Field(min_length=1, max_length=40)
    period: str | None = Field(default=None, max_length=16)


class Queued(OutModel):
    queued: list[dict[str, str]]


@api.route("/allocations", "POST", summary="Queue a programme's allocation", auth=ADMIN,
           body=AllocationRequest, response=Queued, status=202,
           reasons=(Reason.UNKNOWN_SERVICE, Reason.PERIOD_INVALID))
def request_allocation(body: AllocationRequest) -> Queued:
    """The task is sent once this request commits; a re-run grants nothing twice."""
    from backend.audit import record
    from backend.ledger.tasks import allocate_task
    from backend.services import Period
    from backend.services.catalogue import modules
    from backend.tasks import send_after_commit

    module = modules().get(body.programme)
    if module is None or not module.allocations:
        raise ApiError(Reason.UNKNOWN_SERVICE, f"no programme {body.programme!r} with "
                       "allocations", 404)
    queued = []
    for allocation in module.allocations:
        try:
            period = (Period.parse(body.period) if body.period
                      else allocation.due_period(date.today()))
        except ValueError as exc:
            raise ApiError(Reason.PERIOD_INVALID, str(exc), 422) from exc
        if period.cadence != allocation.cadence:
            raise ApiError(Reason.PERIOD_INVALID, f"{module.key} allocates "
                           f"{allocation.cadence}", 422, {"cadence": allocation.cadence})
        send_after_commit(session(), allocate_task, module.key, allocation.purse, period.key)
        queued.append({"programme": module.key, "purse": allocation.purse,
                       "period": period.key})
    record(session(), action="ledger.allocation.requested", subject_type="programme",
           subject_id=module.key, details={"queued": queued})
    return Queued(queued=queued)


class Run(OutModel):
    programme: str
    purse: str
    period: str
    last_id: int
    granted: int
    amount: int
    finished_at: datetime | None


class Runs(OutModel):
    runs: list[Run]


@api.route("/allocations", summary="Allocation runs and their progress", auth=OVERSIGHT,
           response=Runs)
def list_allocations() -> Runs:
    rows = session().scalars(select(AllocationRun).order_by(
        AllocationRun.period.desc(), AllocationRun.programme))
    return Runs(runs=[Run.model_validate(row) for row in rows])


class SettleRequest(StrictModel):
    terminal_id: str = Field(min_length=1, max_length=64)
    day: date


class Settled(OutModel):
    terminal_id: str
    day: date
    settled: list[dict[str, Any]]


def _own_terminal_only(terminal_id: str) -> str | None:
    principal = current_principal()
    assert principal is not None
    if principal.kind == "card":  # the card holder at the shop, not the shop itself
        raise ApiError(Reason.FORBIDDEN, "a card session cannot see or settle takings", 403)
    if principal.kind != "staff" and principal.terminal_id != terminal_id:
        raise ApiError(Reason.FORBIDDEN, "a terminal sees only its own settlement", 403)
    return f"{principal.kind}:{principal.subject}"


@api.route("/settlements/<terminal_id>/<day>", summary="A terminal's takings of one day",
           auth=SETTLERS, response=Settled, reasons=(Reason.VALIDATION_FAILED,))
def show_takings(terminal_id: str, day: str) -> Settled:
    _own_terminal_only(terminal_id)
    on = _day(day)
    zone = current_app.config["CITY_TIMEZONE"]
    groups = settlement.takings(session(), terminal_id, on, zone)
    return Settled(terminal_id=terminal_id, day=on, settled=[
        {"programme": g.programme, "purse": g.purse, "redemptions": len(g.entries),
         "amount": g.amount, "entries": g.entries} for g in groups])


@api.route("/settlements", "POST", summary="Close a terminal's day: pay out its takings",
           auth=CLOSERS, body=SettleRequest, response=Settled, status=201,
           reasons=(Reason.ALREADY_SETTLED,))
def settle_day(body: SettleRequest) -> Settled:
    """The amount is the sum of that day's journal lines on the terminal's accounts."""
    actor = _own_terminal_only(body.terminal_id)
    zone = current_app.config["CITY_TIMEZONE"]
    if body.day > datetime.now(ZoneInfo(zone)).date():
        raise ApiError(Reason.VALIDATION_FAILED, "a day in the future cannot be settled", 400)
    done = settlement.close_day(session(), body.terminal_id, body.day, zone, actor)
    return Settled(terminal_id=body.terminal_id, day=body.day, settled=done)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ApiError(Reason.VALIDATION_FAILED, "the day is YYYY-MM-DD", 400) from exc


class PatternQuery(StrictModel):
    since: date
    until: date
    window_minutes: int = Field(default=60, ge=1, le=24 * 60)
    min_shops: int = Field(default=3, ge=2, le=100)
    min_cards: int = Field(default=5, ge=2, le=10_000)


class Findings(OutModel):
    findings: list[dict[str, Any]]


def checked_range(since: date, until: date) -> tuple[datetime, datetime]:
    """The city's local days `since` to `until` as UTC instants, at most MAX_RANGE."""
    if not timedelta(0) < until - since + timedelta(days=1) <= MAX_RANGE:
        raise ApiError(Reason.VALIDATION_FAILED, "since..until spans 1 to 31 days", 400)
    zone = current_app.config["CITY_TIMEZONE"]
    start = settlement.day_bounds(since, zone)[0]
    return start, settlement.day_bounds(until, zone)[1]


def _audit_review(pattern: str, query: PatternQuery, found: int) -> None:
    from backend.audit import record

    record(session(), action="ledger.patterns.read", subject_type="pattern",
           subject_id=pattern, purpose="irregular redemption review",
           details={"since": query.since.isoformat(), "until": query.until.isoformat(),
                    "findings": found})


@api.route("/patterns/card-many-shops", summary="Cards used at many shops within a window",
           auth=OVERSIGHT, query=PatternQuery, response=Findings)
def card_many_shops(query: PatternQuery) -> Findings:
    since, until = checked_range(query.since, query.until)
    found = patterns.card_at_many_shops(session(), since, until,
                                        timedelta(minutes=query.window_minutes),
                                        query.min_shops)
    _audit_review("card-many-shops", query, len(found))
    return Findings(findings=found)


@api.route("/patterns/shop-night-cards", summary="Shops where many cards redeemed at night",
           auth=OVERSIGHT, query=PatternQuery, response=Findings)
def shop_night_cards(query: PatternQuery) -> Findings:
    since, until = checked_range(query.since, query.until)
    found = patterns.shop_with_many_cards_at_night(
        session(), since, until, current_app.config["CITY_TIMEZONE"],
        min_cards=query.min_cards)
    _audit_review("shop-night-cards", query, len(found))
    return Findings(findings=found)
