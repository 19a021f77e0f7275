"""Screening at registration and at import, and the clerk's decisions.

A national number already registered is refused outright, as before
(`service._refuse_duplicate`, the importer's REGISTERED_CHECKS): the number is the
person, and a different person never shares one. A record that only looks like
someone already registered (`screen`, `score`) is created, and flagged: the pair goes
to the clerk's queue (`DuplicateCandidate`, status open) and the record shows
`pending_review` until a clerk decides.

Why created and flagged, not held back: the person is usually standing at the
counter, or is one row of a city's file of thousands. Holding the record would leave
a child without the school stipend for days over a common name, and an import could
not be all or nothing. A flag costs nothing to the person who is not a duplicate, and
the clerk's decision of `same_person` marks the newer record as a duplicate of the
existing one (`duplicate_of`), which the hub reads as served nothing a second time: every
programme action of that record's card is refused `duplicate_record`
(`backend.services.authorise.refuse_duplicate`) and every allocation passes it over
(`backend.ledger.allocation.not_duplicates`).

While a pair is open the newer record is served as any other: no hold, a flag. The
flag is `pending_review` on the record and the pair in the clerks' queue; an
allocation run before the decision grants it, and what was granted stays in that
record's purse, unspendable once the clerk says `same_person` (the programme office
reverses it as any wrong grant). A hold would make the most common case, two people
of one name and birth day, wait for a clerk to be paid; a registry that pays a
duplicate once or twice before a clerk looks loses less than one that stops the
namesakes of everyone registered.

Works on a Session (the API) or a Connection (the importer), in the caller's
transaction; never commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.orm import Session

from backend.errors import ApiError
from backend.reasons import Reason
from backend.registry import trail
from backend.registry.dedup.models import DuplicateCandidate
from backend.registry.dedup.score import near_dates
from backend.registry.dedup.screen import Pair, Person, Screen
from backend.registry.models import MAX_ID, Citizen

DECISIONS = ("same_person", "different_people")
_T = DuplicateCandidate.__table__


def _people(rows: Iterable[Any]) -> list[Person]:
    return [Person(r.id, r.full_name, r.birth_date, r.region_code) for r in rows]


def check_citizen(sess: Session, person: Citizen, source: str = "registration"
                  ) -> list[DuplicateCandidate]:
    """Put the registered people `person` may be into the queue; returns the rows."""
    days = [person.birth_date, *near_dates(person.birth_date)]
    rows = sess.execute(select(Citizen.id, Citizen.full_name, Citizen.birth_date,
                               Citizen.region_code)
                        .where(Citizen.birth_date.in_(days), Citizen.id != person.id))
    screen = Screen(_people(rows))
    pairs = screen.check(Person(person.id, person.full_name, person.birth_date,
                                person.region_code))
    found = [_candidate(pair, source) for pair in pairs]
    sess.add_all(found)
    sess.flush()
    if found:
        trail.changed(sess, "duplicate.flag", subject_type="citizen", subject_id=person.id,
                      citizen_id=person.id, details={
                          "candidates": [c.id for c in found],
                          "existing": [c.existing_citizen_id for c in found]})
    return found


def check_import(conn: Connection, imported: Sequence[int]) -> int:
    """Candidates among the people just imported (ids `imported`), against the registry
    and each other; returns how many pairs were put in the queue.

    The whole registry is screened once in memory (`Screen.all_pairs`, about a minute
    a million people: bench/bench_dedup.py) and only the pairs with an imported person
    kept: cheaper, for a city's file, than one lookup per row."""
    new = set(imported)
    if not new:
        return 0
    rows = conn.execute(select(Citizen.id, Citizen.full_name, Citizen.birth_date,
                               Citizen.region_code))
    screen = Screen(_people(rows))
    values = []
    for pair in screen.all_pairs():
        if pair.new_id in new:
            values.append(_values(pair, "import"))
    for start in range(0, len(values), 5000):
        conn.execute(insert(_T), values[start:start + 5000])
    return len(values)


def _values(pair: Pair, source: str) -> dict[str, Any]:
    return {"new_citizen_id": pair.new_id, "existing_citizen_id": pair.existing_id,
            "score": pair.verdict.score, "name_similarity": round(pair.verdict.name, 2),
            "matched": ",".join(pair.verdict.matched), "source": source, "status": "open"}


def _candidate(pair: Pair, source: str) -> DuplicateCandidate:
    return DuplicateCandidate(**_values(pair, source))


def pending_review(sess: Session, citizen_id: int) -> bool:
    """Whether this person is the newer record of a pair no clerk has decided yet."""
    return sess.scalar(select(DuplicateCandidate.id).where(
        DuplicateCandidate.new_citizen_id == citizen_id,
        DuplicateCandidate.status == "open").limit(1)) is not None


def duplicate_of(sess: Session, citizen_id: int) -> int | None:
    """The existing person a clerk found this record to be, or None."""
    return sess.scalar(select(DuplicateCandidate.existing_citizen_id).where(
        DuplicateCandidate.new_citizen_id == citizen_id,
        DuplicateCandidate.status == "same_person").order_by(DuplicateCandidate.id).limit(1))


def open_candidates(sess: Session, page: int, per_page: int
                    ) -> tuple[list[tuple[DuplicateCandidate, Citizen, Citizen]], bool]:
    """A page of open pairs, best score first, with both records."""
    query = (select(DuplicateCandidate).where(DuplicateCandidate.status == "open")
             .order_by(DuplicateCandidate.score.desc(), DuplicateCandidate.id)
             .offset((page - 1) * per_page).limit(per_page + 1))
    found = list(sess.scalars(query))
    out = []
    for row in found[:per_page]:
        new = sess.get(Citizen, row.new_citizen_id)
        old = sess.get(Citizen, row.existing_citizen_id)
        assert new is not None and old is not None  # foreign keys
        out.append((row, new, old))
    return out, len(found) > per_page


def decide(sess: Session, candidate_id: int, decision: str, by: str, note: str | None
           ) -> DuplicateCandidate:
    """A clerk's decision on one open pair. `same_person`: the newer record is the
    existing person's duplicate (`duplicate_of`), and the other open pairs of that
    record are closed with it; `different_people`: the pair is cleared."""
    row = sess.get(DuplicateCandidate, candidate_id) if 0 < candidate_id <= MAX_ID else None
    if row is None:
        raise ApiError(Reason.NOT_FOUND, f"no duplicate candidate {candidate_id}", 404,
                       {"candidate_id": candidate_id})
    if row.status != "open":
        raise ApiError(Reason.DUPLICATE_ALREADY_DECIDED,
                       "a clerk has already decided this pair", 409,
                       {"candidate_id": candidate_id, "status": row.status})
    now = dt.datetime.now(dt.UTC)
    _close(row, decision, by, now, note)
    closed = []
    if decision == "same_person":
        for other in sess.scalars(select(DuplicateCandidate).where(
                DuplicateCandidate.new_citizen_id == row.new_citizen_id,
                DuplicateCandidate.status == "open", DuplicateCandidate.id != row.id)):
            _close(other, "different_people", by, now,
                   f"closed: the record is a duplicate of citizen {row.existing_citizen_id}")
            closed.append(other.id)
    sess.flush()
    trail.changed(sess, "duplicate.decide", subject_type="duplicate_candidate",
                  subject_id=row.id, citizen_id=row.new_citizen_id, fields=["status"],
                  details={"decision": decision, "existing": row.existing_citizen_id,
                           "also_closed": closed})
    return row


def _close(row: DuplicateCandidate, decision: str, by: str, now: dt.datetime,
           note: str | None) -> None:
    row.status = decision
    row.decided_by = by
    row.decided_at = now
    row.note = note
