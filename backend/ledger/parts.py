"""The parts an allocation can be split into: the whole registry, or one district.

A part is a filter on the beneficiaries' own table (households or citizens, per the
purse's holder) and the way its batches walk that table. The whole registry walks
the id range in fixed spans, as an unsplit run always has. A district walks its own
rows in id order, `size` at a time, through the (district, id) index of migration
0015, so a batch holds as many beneficiaries as an unsplit batch and no part reads
another district's rows. Every beneficiary lies in exactly one district (its region
code's first six digits), so the districts' parts together grant what the whole does.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, Table, func, select
from sqlalchemy.orm import Session

from backend.registry.models import district_of

WHOLE_KEY = "all"


@dataclass(frozen=True)
class Part:
    key: str  # WHOLE_KEY, or a district code: the run record's `part`

    @property
    def district(self) -> str | None:
        return None if self.key == WHOLE_KEY else self.key

    @property
    def dense(self) -> bool:
        """Whether every id in a batch's range is this part's (only the whole's are)."""
        return self.district is None

    def next_high(self, sess: Session, driver: Table, low: int, size: int) -> int | None:
        """The upper id of the batch after `low`, or None once the part is walked."""
        if self.district is None:
            top = sess.execute(select(func.max(driver.c.id))).scalar() or 0
            return None if low >= top else min(low + size, top)
        ids = (select(driver.c.id).where(district_of(driver.c.region_code) == self.district,
                                         driver.c.id > low)
               .order_by(driver.c.id).limit(size).subquery())
        return sess.execute(select(func.max(ids.c.id))).scalar()

    def restrict(self, eligible: Select, driver: Table, low: int, high: int) -> Select:
        """The module's beneficiaries in (low, high], kept to this part's."""
        if self.district is None:
            return eligible
        e = eligible.subquery("in_range")
        mine = select(driver.c.id).where(district_of(driver.c.region_code) == self.district,
                                         driver.c.id > low, driver.c.id <= high)
        return select(e).where(e.c.beneficiary_id.in_(mine))


WHOLE = Part(WHOLE_KEY)


def districts(sess: Session, driver: Table) -> list[Part]:
    """One part per district that has beneficiaries' rows now, in code order."""
    # A skip scan down the (district, id) index: one probe per district, not a pass
    # over millions of rows for thirty-odd distinct values.
    found: list[Part] = []
    district = district_of(driver.c.region_code)
    after = ""
    while True:
        code = sess.execute(select(func.min(district)).where(district > after)).scalar()
        if code is None:
            return found
        found.append(Part(code))
        after = code
