"""What a counter sends for a stipend withdrawal."""

from __future__ import annotations

from backend.services import StrictModel


class Withdraw(StrictModel):
    amount: int
