"""What the appeals API takes and gives.

A citizen's view (`AppealOut`) carries what the kiosk shows and nothing of the staff's
work (no assignee). The staff's queue (`QueueItemOut`) carries no name and no words:
those come with one appeal (`AppealDetail`), and opening one is recorded as a read.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from backend.api.routing import MAX_INT, OutModel, StrictModel
from backend.grievances import due
from backend.grievances.models import MAX_RESOLUTION, MAX_WORDS, STATUSES, Grievance

if TYPE_CHECKING:
    from backend.grievances.subjects import Refusal

class FileIn(StrictModel):
    """`refusal`: the refusal's number, as `/grievances/refusals` lists it (its audit
    record); `receipt`: `entry_id`, the receipt number. `words`: the citizen's own."""

    subject: Literal["refusal", "receipt"]
    refusal: int | None = Field(None, ge=1, le=MAX_INT)
    entry_id: int | None = Field(None, ge=1, le=MAX_INT)
    words: str | None = Field(None, max_length=MAX_WORDS)

    @model_validator(mode="after")
    def _one_subject(self) -> FileIn:
        if self.subject == "refusal" and (self.refusal is None or self.entry_id is not None):
            raise ValueError("a refusal names its number only")
        if self.subject == "receipt" and (self.entry_id is None or self.refusal is not None):
            raise ValueError("a receipt names its entry_id only")
        return self


class RefusalOut(OutModel):
    """A refusal the city recorded, which the card holder may appeal."""

    refusal: int = Field(description="file an appeal with this number")
    reason: str
    programme: str | None
    action: str | None
    refused_at: dt.datetime

    @classmethod
    def of(cls, refusal: Refusal) -> RefusalOut:
        return cls(refusal=refusal.seq, reason=refusal.reason, programme=refusal.programme,
                   action=refusal.action, refused_at=refusal.at)


class RefusalsOut(OutModel):
    items: list[RefusalOut]


class AssignIn(StrictModel):
    to: str | None = Field(None, min_length=1, max_length=64,
                           description="a clerk's username; none: yourself")


class ResolveIn(StrictModel):
    outcome: Literal["upheld", "not_upheld"]
    reason: str = Field(min_length=1, max_length=MAX_RESOLUTION,
                        description="shown to the citizen at a kiosk")


class QueueQuery(StrictModel):
    status: Literal[STATUSES] | None = None  # type: ignore[valid-type]
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0, le=1_000_000)


def refusal_seq(row: Grievance) -> int | None:
    """The appealed refusal's audit record (its `subject_key` is `refusal:<seq>`)."""
    kind, _, number = row.subject_key.partition(":")
    return int(number) if kind == "refusal" and number.isdigit() else None


class _Subject(OutModel):
    id: int
    subject: str
    refusal: int | None
    reason: str | None
    programme: str | None
    action: str | None
    refused_at: dt.datetime | None
    entry_id: int | None
    channel: str
    status: str
    filed_at: dt.datetime
    due_on: dt.date


def _subject_fields(row: Grievance) -> dict[str, object]:
    return {"id": row.id, "subject": row.subject_kind, "refusal": refusal_seq(row),
            "reason": row.refusal_reason,
            "programme": row.refusal_programme, "action": row.refusal_action,
            "refused_at": row.refused_at, "entry_id": row.entry_id, "channel": row.channel,
            "status": row.status, "filed_at": row.filed_at, "due_on": row.due_on}


class AppealOut(_Subject):
    outcome: str | None
    resolution: str | None
    resolved_at: dt.datetime | None

    @classmethod
    def of(cls, row: Grievance) -> AppealOut:
        return cls(**_subject_fields(row), outcome=row.outcome, resolution=row.resolution,
                   resolved_at=row.resolved_at)


class FiledOut(OutModel):
    appeal: AppealOut
    already_open: bool = Field(description="true: this subject's appeal was open already, "
                                           "and this is it")


class AppealsOut(OutModel):
    items: list[AppealOut]


class QueueItemOut(_Subject):
    """No citizen: who it is comes with one appeal, a recorded read."""

    assignee: str | None
    overdue: bool

    @classmethod
    def of(cls, row: Grievance, now: dt.datetime) -> QueueItemOut:
        late = row.status != "resolved" and due.overdue(row.due_on, now)
        return cls(**_subject_fields(row), assignee=row.assignee, overdue=late)


class QueueOut(OutModel):
    items: list[QueueItemOut]


class AppealDetail(QueueItemOut):
    citizen_id: int
    full_name: str
    national_number: str
    words: str | None
    terminal_id: str | None
    refusal_terminal: str | None
    filed_by: str
    assigned_by: str | None
    assigned_at: dt.datetime | None
    outcome: str | None
    resolution: str | None
    resolved_by: str | None
    resolved_at: dt.datetime | None
