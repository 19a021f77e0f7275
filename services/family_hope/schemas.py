"""What a counter sends for a family hope withdrawal."""

from __future__ import annotations

from backend.services import StrictModel


class Withdraw(StrictModel):
    amount: int
