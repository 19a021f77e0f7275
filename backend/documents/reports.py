"""The monthly programme report: beneficiaries, amounts granted and spent, redemption
rate, by region, with charts, for the city's monitoring and evaluation.

Every figure comes from the ledger's journal lines on beneficiary accounts (citizen or
household), in one grouped Core query, so the report cannot disagree with the
ledger: granted = credit into those accounts by grant entries, spent = debit by
spends, withdrawals and fares, expired = debit by expiry. The month's appeals
(backend/grievances/figures.py) are counted beside them. The month is the city's
calendar month (SATUKARTU_CITY_TIMEZONE). The region is the beneficiary's registry
region cut to the chosen level (district: the first six digits).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, and_, case, cast, distinct, func, select
from sqlalchemy.orm import Session

from backend.grievances.figures import AppealFigures
from backend.grievances.figures import monthly as appeal_figures
from backend.ledger.models import Account, JournalEntry, JournalLine
from backend.registry.models import Citizen, Household

GRANT_KINDS = ("grant", "credit")
SPEND_KINDS = ("spend", "withdrawal", "fare")
EXPIRY_KINDS = ("expiry",)
LEVELS = {"regency": 4, "district": 6, "village": 10}
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
UNKNOWN_REGION = "?"

A, L, E = Account.__table__, JournalLine.__table__, JournalEntry.__table__
C, H = Citizen.__table__, Household.__table__


@dataclass(frozen=True)
class Figures:
    beneficiaries: int = 0  # distinct accounts' owners granted in the month
    granted: int = 0
    spent: int = 0
    expired: int = 0
    redeemers: int = 0  # distinct owners who spent in the month
    transactions: int = 0  # spend, withdrawal and fare entries

    @property
    def redemption_rate(self) -> float | None:
        """Spent over granted in the month (None when nothing was granted)."""
        return self.spent / self.granted if self.granted else None

    def __add__(self, other: Figures) -> Figures:
        return Figures(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))


def astuple(f: Figures) -> tuple[int, ...]:
    return (f.beneficiaries, f.granted, f.spent, f.expired, f.redeemers, f.transactions)


@dataclass(frozen=True)
class MonthlyReport:
    month: str
    level: str
    start: datetime
    end: datetime
    by_region: dict[str, dict[str, Figures]]  # programme -> region -> figures
    overall: Figures  # beneficiaries counted once across programmes
    overall_by_region: dict[str, Figures] = field(default_factory=dict)
    appeals: AppealFigures = field(default_factory=AppealFigures)  # citizens' appeals

    def programme_total(self, programme: str) -> Figures:
        return sum(self.by_region[programme].values(), Figures())

    def as_dict(self) -> dict[str, Any]:
        def figures(f: Figures) -> dict[str, Any]:
            return {**asdict(f), "redemption_rate": f.redemption_rate}

        return {
            "month": self.month, "level": self.level,
            "start": self.start.isoformat(), "end": self.end.isoformat(),
            "overall": figures(self.overall),
            "appeals": {**asdict(self.appeals), "in_time_rate": self.appeals.in_time_rate},
            "programmes": {
                p: {"total": figures(self.programme_total(p)),
                    "regions": {r: figures(f) for r, f in regions.items()}}
                for p, regions in self.by_region.items()},
        }


def month_bounds(month: str, zone: str) -> tuple[datetime, datetime]:
    """The city's calendar month as a UTC [start, end) range."""
    match = MONTH.match(month)
    if not match:
        raise ValueError(f"not a month: {month!r} (YYYY-MM)")
    year, number = int(match.group(1)), int(match.group(2))
    tz = ZoneInfo(zone)
    start = datetime(year, number, 1, tzinfo=tz)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def _owner() -> Any:
    return A.c.owner_type + ":" + A.c.owner_ref


def _figures_columns() -> list[Any]:
    def when(kinds: tuple[str, ...], value: Any) -> Any:
        return case((E.c.kind.in_(kinds), value))

    def total(kinds: tuple[str, ...], sign: int) -> Any:
        return func.coalesce(func.sum(when(kinds, sign * L.c.amount)), 0)

    return [
        func.count(distinct(when(GRANT_KINDS, _owner()))).label("beneficiaries"),
        total(GRANT_KINDS, 1).label("granted"),
        total(SPEND_KINDS, -1).label("spent"),
        total(EXPIRY_KINDS, -1).label("expired"),
        func.count(distinct(when(SPEND_KINDS, _owner()))).label("redeemers"),
        func.count(distinct(when(SPEND_KINDS, E.c.id))).label("transactions"),
    ]


def _query(start: datetime, end: datetime, digits: int, programmes: Sequence[str],
           by_programme: bool) -> Any:
    region = case((A.c.owner_type == "household", H.c.region_code), else_=C.c.region_code)
    area = func.coalesce(func.substr(region, 1, digits), UNKNOWN_REGION).label("region")
    keys = [E.c.programme, area] if by_programme else [area]
    joined = (L.join(E, E.c.id == L.c.entry_id).join(A, A.c.id == L.c.account_id)
              .outerjoin(H, and_(A.c.owner_type == "household",
                                 cast(H.c.id, String) == A.c.owner_ref))
              .outerjoin(C, and_(A.c.owner_type == "citizen",
                                 cast(C.c.id, String) == A.c.owner_ref)))
    stmt = (select(*keys, *_figures_columns()).select_from(joined)
            .where(A.c.owner_type.in_(("citizen", "household")),
                   E.c.created_at >= start, E.c.created_at < end)
            .group_by(*keys).order_by(*keys))
    if programmes:
        stmt = stmt.where(E.c.programme.in_(tuple(programmes)))
    return stmt


def _row_figures(row: Any) -> Figures:
    return Figures(*(int(getattr(row, name)) for name in (
        "beneficiaries", "granted", "spent", "expired", "redeemers", "transactions")))


def monthly(session: Session, month: str, zone: str, *, level: str = "district",
            programmes: Sequence[str] = ()) -> MonthlyReport:
    """The month's figures per programme and region, straight from the ledger."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}")
    start, end = month_bounds(month, zone)
    by_region: dict[str, dict[str, Figures]] = {}
    for row in session.execute(_query(start, end, LEVELS[level], programmes, True)):
        by_region.setdefault(row.programme, {})[row.region] = _row_figures(row)
    overall_by_region = {row.region: _row_figures(row) for row in session.execute(
        _query(start, end, LEVELS[level], programmes, False))}
    overall = sum(overall_by_region.values(), Figures())
    return MonthlyReport(month, level, start, end, by_region, overall, overall_by_region,
                         appeal_figures(session, start, end, zone, programmes=programmes))
