"""Coverage comes from the registry's health assignment (JKN membership)."""

from __future__ import annotations

import datetime as dt

from backend.services import Eligibility, HealthCover

VISIT = "visit"  # fact kind other programmes read (family hope conditions)
PREGNANCY = "pregnancy"  # fact kind: from the first antenatal visit to the delivery date
MAX_PREGNANCY = dt.timedelta(days=300)


def decide(cover: HealthCover | None) -> Eligibility:
    if cover is None:
        return Eligibility.no("no_membership")
    if not cover.active:
        return Eligibility.no("membership_inactive", facility_code=cover.facility_code)
    return Eligibility.yes(jkn_class=cover.jkn_class, premium_assisted=cover.premium_assisted)


def coverage(cover: HealthCover | None) -> dict[str, object]:
    decision = decide(cover)
    answer: dict[str, object] = {"covered": decision.eligible, "reason": decision.reason}
    if cover is not None:
        answer.update(facility_code=cover.facility_code, facility_name=cover.facility_name,
                      jkn_class=cover.jkn_class, premium_assisted=cover.premium_assisted)
    return answer


def delivery_date_problem(visit_kind: str, today: dt.date,
                          expected: dt.date | None) -> str | None:
    if visit_kind != "antenatal":
        return "only an antenatal visit names a delivery date" if expected else None
    if expected is None:
        return "an antenatal visit needs the expected delivery date"
    if not today <= expected <= today + MAX_PREGNANCY:
        return "the expected delivery date must be within the coming 300 days"
    return None
