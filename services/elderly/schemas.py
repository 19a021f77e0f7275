"""What a counter sends for an allowance withdrawal."""

from __future__ import annotations

from backend.services import StrictModel


class Withdraw(StrictModel):
    amount: int
