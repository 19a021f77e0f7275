"""What a clinic counter sends when it registers a visit."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from backend.services import StrictModel

VisitKind = Literal["general", "antenatal", "child_growth", "immunisation"]


class Visit(StrictModel):
    """A visit of the card holder, or of a member of their household too young for a
    card (`patient_id`). An antenatal visit names the expected delivery date."""

    kind: VisitKind
    facility_code: str = Field(min_length=1, max_length=32)
    patient_id: int | None = None
    expected_delivery: dt.date | None = None
