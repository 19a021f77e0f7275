"""Periodic grants: one SQL select over the registry per programme and period.

The hub runs an `Allocation`'s select in batches over the id range, one transaction
each, so a city of millions is allocated in one pass and a re-run grants nothing
twice; the select sees the registry only through `RegistryTables`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from backend.services.periods import Cadence, Period

if TYPE_CHECKING:
    from sqlalchemy import Select, Table


@dataclass(frozen=True)
class RegistryTables:
    """SQLAlchemy Core tables an `Allocation` may select from (read only)."""

    citizens: Table
    households: Table
    members: Table
    enrolments: Table
    health: Table
    facts: Table


@dataclass(frozen=True)
class Allocation:
    """A periodic grant over the whole registry, computed in SQL, run by the hub.

    `beneficiaries(tables, period, params, low, high)` returns a select with columns
    `beneficiary_id` (the household or citizen id, per the purse's holder),
    `citizen_id` (the citizen served, or NULL) and `amount` (> 0), restricted to
    `low < beneficiary_id <= high`: the hub walks the id range in batches, one
    transaction each, so a killed run resumes and a re-run grants nothing twice. The
    holder kind (household or citizen) is the purse's.
    """

    purse: str
    cadence: Cadence
    beneficiaries: Callable[[RegistryTables, Period, Mapping[str, Any], int, int], Select]
    in_arrears: bool = False  # True: paid after the period, for conditions met in it

    def due_period(self, day: date) -> Period:
        """The period the scheduled run on `day` pays for."""
        current = Period.containing(day, self.cadence)
        if not self.in_arrears:
            return current
        return Period.containing(current.start - timedelta(days=1), self.cadence)
