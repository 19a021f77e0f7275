"""What the appeals API takes and gives.

A citizen's view (`AppealOut`) carries what the kiosk shows and nothing of the staff's
work (no assignee). The staff's queue (`QueueItemOut`) carries no name and no words:
those come with one appeal (`AppealDetail`), and opening one is recorded as a read.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, model_validator

from backend.api.routing import MAX_INT, OutModel, StrictModel
from backend.grievances import due
from backend.grievances.models import MAX_RESOLUTION, MAX_WORDS, STATUSES, Grievance

CODE = r"^[a-z][a-z0-9_]{1,63}$"


class FileIn(StrictModel):
    """`refusal`: `reason`, `refused_at`, and the `programme` and `action` refused if
    any; `receipt`: `entry_id`, the receipt number. `words`: the citizen's own."""

    subject: Literal["refusal", "receipt"]
    reason: str | None = Field(None, pattern=CODE)
    programme: str | None = Field(None, pattern=CODE, max_length=40)
    action: str | None = Field(None, pattern=CODE)
    refused_at: dt.datetime | None = None
    entry_id: int | None = Field(None, ge=1, le=MAX_INT)
    words: str | None = Field(None, max_length=MAX_WORDS)

    @model_validator(mode="after")
    def _one_subject(self) -> FileIn:
        if self.subject == "refusal":
            if self.reason is None or self.refused_at is None or self.entry_id is not None:
                raise ValueError("a refusal names its reason and time, and no entry_id")
        elif (self.entry_id is None or self.reason is not None or self.refused_at is not None
              or self.programme is not None or self.action is not None):
            raise ValueError("a receipt names its entry_id only")
        return self


class AssignIn(StrictModel):
    to: str | None = Field(None, min_length=1, max_length=64,
                           description="a clerk's or admin's username; none: yourself")


class ResolveIn(StrictModel):
    outcome: Literal["upheld", "not_upheld"]
    reason: str = Field(min_length=1, max_length=MAX_RESOLUTION,
                        description="shown to the citizen at a kiosk")


class QueueQuery(StrictModel):
    status: Literal[STATUSES] | None = None  # type: ignore[valid-type]
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0, le=1_000_000)


class _Subject(OutModel):
    id: int
    subject: str
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
    return {"id": row.id, "subject": row.subject_kind, "reason": row.refusal_reason,
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
    citizen_id: int
    assignee: str | None
    overdue: bool

    @classmethod
    def of(cls, row: Grievance, now: dt.datetime) -> QueueItemOut:
        late = row.status != "resolved" and due.overdue(row.due_on, now)
        return cls(**_subject_fields(row), citizen_id=row.citizen_id, assignee=row.assignee,
                   overdue=late)


class QueueOut(OutModel):
    items: list[QueueItemOut]


class AppealDetail(QueueItemOut):
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
