"""What a transit gate sends for one fare."""

from __future__ import annotations

from pydantic import Field

from backend.services import StrictModel


class Fare(StrictModel):
    amount: int
    route: str | None = Field(default=None, max_length=40)
