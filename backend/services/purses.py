"""Purses and postings: how a programme's money is held, as the ledger enforces it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from backend.services.periods import Period

HolderKind = Literal["citizen", "household"]


@dataclass(frozen=True)
class PurseRule:
    """How the ledger treats one purse's balances: data the city declares in its services
    file (`backend.services.purse_rules`), enforced by the ledger, never by a module.

    `holder`: whose account it is. `cashable`: may be withdrawn as cash at a counter.
    `carry_over`: False means unspent credit expires at the end of the period it was
    granted for (`expires_after_days` later); True keeps it, unless `expires_after_days`
    is set. `categories`: the item categories it may buy (None: any).
    `daily_cap`, `monthly_cap`: the most one holder's account may be debited in a UTC
    day or calendar month, in the programme's smallest unit (None: no cap).
    `agent_categories`: the categories of agent terminal that may redeem it (None: any).
    Expiry is written as journal entries, never as edits.
    """

    holder: HolderKind = "citizen"
    cashable: bool = False
    carry_over: bool = True
    categories: frozenset[str] | None = None
    expires_after_days: int | None = None
    daily_cap: int | None = None
    monthly_cap: int | None = None
    agent_categories: frozenset[str] | None = None

    def expires_on(self, period: Period) -> date | None:
        """When credit granted for `period` lapses (None: never)."""
        if self.carry_over and self.expires_after_days is None:
            return None
        return period.end + timedelta(days=self.expires_after_days or 0)


@dataclass(frozen=True)
class Beneficiary:
    kind: HolderKind
    id: int


@dataclass(frozen=True)
class Posting:
    """What the ledger wrote: the journal entry (also the receipt number) and the
    beneficiary's balance after it."""

    entry_id: int
    amount: int
    balance_after: int

    def answer(self, **extra: Any) -> dict[str, Any]:
        """The action's answer every terminal prints a receipt from."""
        return {"entry_id": self.entry_id, "receipt": self.entry_id, "amount": self.amount,
                "balance_after": self.balance_after, **extra}
