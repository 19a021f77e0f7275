"""Grant cycles: the periods allocations pay for, and calendar arithmetic on them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

Cadence = Literal["monthly", "quarterly", "semester"]


def years_before(day: date, years: int) -> date:
    """The same calendar day `years` earlier (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


@dataclass(frozen=True)
class Period:
    """A grant cycle: `2026-05` (month), `2026-Q2` (quarter), `2026-S1` (semester)."""

    key: str
    cadence: Cadence
    start: date
    end: date  # inclusive

    @classmethod
    def parse(cls, key: str) -> Period:
        match = re.fullmatch(r"(\d{4})-(?:(\d{2})|Q([1-4])|S([12]))", key.strip())
        if not match:
            raise ValueError(f"not a period: {key!r} (YYYY-MM, YYYY-Qn or YYYY-Sn)")
        year, month, quarter, semester = match.groups()
        first, months, cadence = (
            (int(month), 1, "monthly") if month else
            (3 * int(quarter) - 2, 3, "quarterly") if quarter else
            (6 * int(semester) - 5, 6, "semester"))
        if not 1 <= first <= 12:
            raise ValueError(f"not a period: {key!r}")
        start = date(int(year), first, 1)
        after = date(int(year) + (first + months - 1) // 12, (first + months - 1) % 12 + 1, 1)
        return cls(key.strip(), cadence, start, after - timedelta(days=1))  # type: ignore[arg-type]

    @classmethod
    def containing(cls, day: date, cadence: Cadence) -> Period:
        if cadence == "monthly":
            return cls.parse(f"{day.year}-{day.month:02d}")
        if cadence == "quarterly":
            return cls.parse(f"{day.year}-Q{(day.month - 1) // 3 + 1}")
        return cls.parse(f"{day.year}-S{(day.month - 1) // 6 + 1}")
