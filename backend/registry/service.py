"""People in the registry: create, read, correct, record a death, search.

Every function works in the caller's transaction and never commits (the API commits at
the boundary, the CLI through `Database.transaction()`); a refusal is an ApiError
raised before anything is written, or with the savepoint that wrote it rolled back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from flask import current_app
from sqlalchemy import Select, and_, func, literal_column, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from backend.errors import ApiError
from backend.reasons import Reason
from backend.registry import history, national_ids, trail
from backend.registry.history import Actor
from backend.registry.models import MAX_ID, Citizen, HealthAssignment, SchoolEnrolment
from backend.registry.names import clean_name, fold_name

PERSONAL_FIELDS = ("national_number", "full_name", "birth_date", "sex", "address",
                   "region_code", "language", "photo_ref", "died_on")
BRIEF_FIELDS = ("national_number", "full_name", "birth_date")


def get_citizen(sess: Session, citizen_id: int) -> Citizen | None:
    """The person with this id, or None (services read the registry through this)."""
    return sess.get(Citizen, citizen_id) if 0 < citizen_id <= MAX_ID else None


def require_citizen(sess: Session, citizen_id: int) -> Citizen:
    person = get_citizen(sess, citizen_id)
    if person is None:
        raise ApiError(Reason.NOT_FOUND, f"no citizen {citizen_id}", 404,
                       {"citizen_id": citizen_id})
    return person


def accepted_formats() -> tuple[str, ...]:
    return tuple(current_app.config["NATIONAL_ID_FORMATS"])


def check_national_number(number: str, birth_date: dt.date, sex: str,
                          formats: Sequence[str] | None = None) -> str:
    """The number as stored, or a refusal naming each format's exact problem."""
    normalized, problems = national_ids.validate(
        number, formats or accepted_formats(), birth_date, sex)
    if problems:
        raise ApiError(Reason.INVALID_NATIONAL_NUMBER,
                       f"{number!r} is not a valid national number: {problems[0].problem}",
                       422, {"national_number": number,
                             "problems": [p.as_dict() for p in problems]})
    return normalized


def _refuse_duplicate(sess: Session, number: str, except_id: int | None = None) -> None:
    found = sess.scalar(select(Citizen.id).where(Citizen.national_number == number))
    if found is not None and found != except_id:
        raise ApiError(Reason.DUPLICATE_NATIONAL_NUMBER,
                       "another citizen has this national number", 409,
                       {"national_number": number})


def _flush_unique(sess: Session, number: str) -> None:
    """Flush in a savepoint, so a concurrent duplicate is a clear refusal, not a 500."""
    try:
        with sess.begin_nested():
            sess.flush()
    except IntegrityError as exc:
        raise ApiError(Reason.DUPLICATE_NATIONAL_NUMBER,
                       "another citizen has this national number", 409,
                       {"national_number": number}) from exc


def create_citizen(sess: Session, fields: dict[str, Any], actor: Actor | None = None
                   ) -> Citizen:
    actor = actor or Actor.current()
    number = check_national_number(fields["national_number"], fields["birth_date"],
                                   fields["sex"])
    _refuse_duplicate(sess, number)
    name = clean_name(fields["full_name"])
    person = Citizen(**{**fields, "national_number": number, "full_name": name,
                        "name_search": fold_name(name)})
    sess.add(person)
    _flush_unique(sess, number)
    values = {field: getattr(person, field) for field in PERSONAL_FIELDS}
    history.record(sess, actor, action="create", entity="citizen", entity_id=person.id,
                   citizen_id=person.id,
                   changes={k: (None, v) for k, v in values.items() if v is not None})
    trail.changed(sess, "citizen.create", subject_type="citizen", subject_id=person.id,
                  citizen_id=person.id, fields=values)
    return person


NOT_NULL = frozenset(PERSONAL_FIELDS) - {"photo_ref", "died_on"}


def update_citizen(sess: Session, person: Citizen, fields: dict[str, Any],
                   actor: Actor | None = None) -> Citizen:
    """Apply the fields sent; the national number is checked again against the result."""
    actor = actor or Actor.current()
    if person.died_on is not None:
        raise ApiError(Reason.CITIZEN_DECEASED, "the record of a deceased person is closed",
                       409, {"citizen_id": person.id, "died_on": person.died_on.isoformat()})
    nulls = sorted(name for name, value in fields.items() if value is None and name in NOT_NULL)
    if nulls:
        raise ApiError(Reason.VALIDATION_FAILED, "these fields cannot be emptied", 400,
                       {"errors": [{"field": n, "problem": "may not be null"} for n in nulls]})
    if "full_name" in fields:
        fields["full_name"] = clean_name(fields["full_name"])
    before = {name: getattr(person, name) for name in PERSONAL_FIELDS}
    after = {**before, **fields}
    if {"national_number", "birth_date", "sex"} & fields.keys():
        after["national_number"] = check_national_number(
            after["national_number"], after["birth_date"], after["sex"])
        _refuse_duplicate(sess, after["national_number"], except_id=person.id)
    changes = history.diff(before, {k: after[k] for k in PERSONAL_FIELDS})
    if not changes:
        return person
    for name, (_old, new) in changes.items():
        setattr(person, name, new)
    if "full_name" in changes:
        person.name_search = fold_name(person.full_name)
    person.updated_at = func.current_timestamp()
    _flush_unique(sess, person.national_number)
    history.record(sess, actor, action="update", entity="citizen", entity_id=person.id,
                   citizen_id=person.id, changes=changes)
    trail.changed(sess, "citizen.update", subject_type="citizen", subject_id=person.id,
                  citizen_id=person.id, fields=changes)
    return person


def record_death(sess: Session, person: Citizen, died_on: dt.date,
                 certificate_ref: str | None = None, actor: Actor | None = None) -> Citizen:
    """A death closes the record; the person stays, as the law and the ledger need."""
    actor = actor or Actor.current()
    if person.died_on is not None:
        raise ApiError(Reason.CITIZEN_DECEASED, "this death is already recorded", 409,
                       {"citizen_id": person.id, "died_on": person.died_on.isoformat()})
    if died_on < person.birth_date or died_on > dt.date.today():
        raise ApiError(Reason.VALIDATION_FAILED,
                       "the date of death must be between the birth and today", 400,
                       {"errors": [{"field": "died_on", "problem": "out of range"}]})
    person.died_on = died_on
    person.updated_at = func.current_timestamp()
    _close_facts(sess, person.id, actor)
    history.record(sess, actor, action="death", entity="citizen", entity_id=person.id,
                   citizen_id=person.id, changes={"died_on": (None, died_on)})
    trail.changed(sess, "citizen.death", subject_type="citizen", subject_id=person.id,
                  citizen_id=person.id, fields=["died_on"],
                  details={"certificate_ref": certificate_ref} if certificate_ref else None)
    sess.flush()
    return person


def _close_facts(sess: Session, citizen_id: int, actor: Actor) -> None:
    """After a death, enrolments and health membership are no longer active facts."""
    for enrolment in sess.scalars(select(SchoolEnrolment).where(
            SchoolEnrolment.citizen_id == citizen_id, SchoolEnrolment.active.is_(True))):
        enrolment.active = False
        history.record(sess, actor, action="death", entity="school_enrolment",
                       entity_id=enrolment.id, citizen_id=citizen_id,
                       changes={"active": (True, False)})
    assignment = sess.get(HealthAssignment, citizen_id)
    if assignment is not None and assignment.active:
        assignment.active = False
        history.record(sess, actor, action="death", entity="health_assignment",
                       entity_id=citizen_id, citizen_id=citizen_id,
                       changes={"active": (True, False)})


# People, in id order, a part of a name is first looked for among (on PostgreSQL),
# and the most a second walk goes when the first found the part but not a page of it.
SEARCH_WINDOW = 10_000
SEARCH_WALK = 300_000
# The most that second walk goes for a part the joined index serves (`_longer_walk`).
JOINED_WALK = 120_000


def search(sess: Session, *, number: str | None, name: str | None, page: int,
           per_page: int) -> tuple[list[Citizen], bool]:
    """People matching the number (exact) and the name (any part, any case, with or
    without accents), a page of them in id order; returns (the page, whether more
    follow).

    By name alone on PostgreSQL, in two steps, because neither plan alone is quick for
    every part of a name. Walking the ids in order and testing each name finds a page
    of a common part ("budi") at once, but walks the whole table for a rare one, or
    for one whose people all came late ("nguyen" in a city whose Vietnamese
    newcomers were registered last: the planner, taking matches as spread evenly,
    picks that walk and takes seconds). The trigram index finds a rare part at once,
    but fetches and sorts every match of a common one. So the walk first, over the
    first SEARCH_WINDOW people only; if the page is not complete there but the part
    was found, a longer walk sized by how often it was (`_longer_walk`); then the
    index (`search_statement`). bench/bench_citizen_search.py measures every kind.
    """
    if number is None and name is None:
        raise ApiError(Reason.VALIDATION_FAILED, "search by number, name or both", 400,
                       {"errors": [{"field": "number", "problem": "number or name needed"}]})
    dialect = sess.get_bind().dialect.name
    if name is not None and number is None and dialect == "postgresql":
        found = list(sess.scalars(_among_first(name, page, per_page, SEARCH_WINDOW)))
        window = _longer_walk(len(found), page, per_page, fold_name(name))
        if len(found) <= per_page and window is not None:
            found = list(sess.scalars(_among_first(name, page, per_page, window)))
        if len(found) > per_page:  # the page and one more, all among the first people
            return found[:per_page], True
    query = search_statement(dialect, number=number, name=name, page=page, per_page=per_page)
    found = list(sess.scalars(query))
    return found[:per_page], len(found) > per_page


def _longer_walk(found: int, page: int, per_page: int, key: str) -> int | None:
    """How far a second walk goes when the first window held some matches but not the
    page: far enough, by the matches' density there, to hold the page half again, if
    that is within SEARCH_WALK. A part that common is one the plain trigram index hands
    over slowly (many matches, or many names holding its trigrams, to fetch and sort),
    and walking costs 0.4-1 µs a person. A walk stops at the page's last match.

    A part of two words the joined index serves (`_joined`) walks up to JOINED_WALK
    whatever the density: a given and a family name is typically one person in
    ~2,700, seen a few times in the first window, which says little, and the index
    hands its ~3,700 matches at ten million over in 40-130 ms, against at most ~45 ms
    for walking JOINED_WALK people (bench/bench_citizen_search.py). A page not
    complete there is then the index's."""
    if found == 0 or found > per_page:
        return None
    if _joined(key):
        return JOINED_WALK
    seen = (page - 1) * per_page + found
    window = SEARCH_WINDOW * (page * per_page + 1) * 3 // (2 * seen)
    return window if window <= SEARCH_WALK else None


def search_statement(dialect: str, *, number: str | None, name: str | None, page: int,
                     per_page: int) -> Select[Citizen]:
    """The whole search as one statement: a page and one row more (which says more
    follow).

    A number is an exact match on the unique index (never a prefix: the first digits
    of a NIK are a district and a birth date, and a prefix search would list them).
    A name is any part of its search key (`names.fold_name`: case-folded, Latin
    accents off, Thai marks kept), `LIKE '%part%'` on `name_search`, which the trigram
    index serves on PostgreSQL from three characters on. A part rather than a
    similarity threshold: Thai has no case and no word breaks, and a threshold drops
    a short part of a long name. A part of two words or more is also matched in the key
    with its spaces out, which a second trigram index serves (`_name_matches`). On
    PostgreSQL the matches of a name are sorted by id after the index found them
    (`id + 0`: never the walk along the ids, see `search`); by number, and on SQLite
    (the demo), in id order.
    """
    query = select(Citizen)
    if number is not None:
        query = query.where(Citizen.national_number == national_ids.normalize(number))
    order: Any = Citizen.id
    if name is not None:
        query = query.where(_name_matches(Citizen.name_search, name,
                                          joined=dialect == "postgresql"))
        if dialect == "postgresql" and number is None:
            order = Citizen.id + 0
    return query.order_by(order).offset((page - 1) * per_page).limit(per_page + 1)


def _among_first(name: str, page: int, per_page: int, window: int) -> Select[Citizen]:
    """The page (and one more) of people matching `name` among the first `window` by id."""
    first = select(Citizen).order_by(Citizen.id).limit(window).subquery()
    people = aliased(Citizen, first)
    return (select(people).where(_name_matches(first.c.name_search, name))
            .order_by(first.c.id).offset((page - 1) * per_page).limit(per_page + 1))


# The shortest word for which a part of several words is looked for in the joined key.
JOINED_WORD = 3


def _name_matches(column: Any, name: str, *, joined: bool = False) -> Any:
    """`column` holds the name's part. With `joined`, a part of two words or more is
    looked for in the key with its spaces out, the condition the joined trigram index
    serves (migration 0014): pg_trgm takes trigrams within words only, so the plain
    index alone hands over every name holding each word anywhere. Only when every
    word has JOINED_WORD letters or more: a part like "u san" has no trigram of its
    own in the joined key ("usa", "san" are inside "susanti" too), and the plain
    index finds it quicker (bench/bench_citizen_search.py)."""
    key = fold_name(name)
    if not joined or not _joined(key):
        return column.like(_contains(key), escape="\\")
    # The joined index's own expression, with its constants written out: a bound
    # parameter would not match the index under a prepared statement's plan. The spaced
    # condition is kept from the plain index (`|| ''`): the planner would AND both
    # indexes' bitmaps, and the plain one's, for common words, costs more than the
    # joined one's alone (bench/bench_citizen_search.py).
    spaces_out = func.replace(column, literal_column("' '"), literal_column("''"))
    as_is = column.op("||")(literal_column("''"))
    return and_(spaces_out.like(_contains(key.replace(" ", "")), escape="\\"),
                as_is.like(_contains(key), escape="\\"))


def _joined(key: str) -> bool:
    """Whether the joined index serves this search key: two words or more, each of
    JOINED_WORD letters or more."""
    words = key.split(" ")
    return len(words) >= 2 and min(map(len, words)) >= JOINED_WORD


def _contains(key: str) -> str:
    return f"%{_escape_like(key)}%"


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def log_reads(sess: Session, people: Iterable[Citizen], purpose: str,
              fields: Iterable[str]) -> None:
    fields = tuple(fields)
    for person in people:
        trail.read(sess, person.id, purpose, fields)
