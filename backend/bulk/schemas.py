"""What the API says about a bulk job: progress N of M, its state, what can be done next."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from backend.api.routing import OutModel, StrictModel
from backend.bulk.models import RESUMABLE, STATUSES, BulkJob

JobStatus = Literal[STATUSES]  # type: ignore[valid-type]


class JobOut(OutModel):
    id: int
    kind: str
    status: JobStatus
    unit: Literal["cards", "bytes"] = Field(description="what `total` and `processed` count")
    total: int
    processed: int = Field(description="rows (or bytes) handled so far, done or failed: "
                           "the progress is processed of total")
    done: int
    failed: int = Field(description="rows that could not be done (see failures_csv)")
    approval_id: int | None
    created_by: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    updated_at: dt.datetime = Field(description="moves with every committed batch")
    finished_at: dt.datetime | None
    message: str
    can_cancel: bool
    can_resume: bool = Field(description="cancelled, failed or still cancelling: resume goes "
                             "on after the last committed batch (a queued or running job "
                             "whose worker died may be resumed too: it is sent again)")
    failures_csv: str = Field(description="path of the failures as CSV")

    @classmethod
    def of(cls, job: BulkJob) -> JobOut:
        return cls(id=job.id, kind=job.kind, status=job.status, unit=job.unit,
                   total=job.total, processed=job.cursor, done=job.done, failed=job.failed,
                   approval_id=job.approval_id, created_by=job.created_by,
                   created_at=job.created_at, started_at=job.started_at,
                   updated_at=job.updated_at, finished_at=job.finished_at,
                   message=job.message, can_cancel=job.status in ("queued", "running"),
                   can_resume=job.status in RESUMABLE,
                   failures_csv=f"/api/v1/jobs/{job.id}/failures.csv")


class JobList(OutModel):
    items: list[JobOut]


class JobQuery(StrictModel):
    status: JobStatus | None = None
    kind: str | None = Field(None, max_length=40)
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0, le=1_000_000)
