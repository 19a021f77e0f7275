"""What an agent shop's terminal sends for a redemption."""

from __future__ import annotations

from pydantic import Field

from backend.services import StrictModel


class Item(StrictModel):
    name: str = Field(min_length=1, max_length=80)
    category: str = Field(min_length=1, max_length=40)
    quantity: int = Field(gt=0, le=1000)
    unit_price: int = Field(gt=0, le=100_000_000)

    @property
    def total(self) -> int:
        return self.quantity * self.unit_price


class Redeem(StrictModel):
    """The basket and its total, which must equal the sum of the items."""

    items: list[Item] = Field(min_length=1, max_length=50)
    amount: int
