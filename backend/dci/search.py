"""Answer one `search_request` item: its criteria as a registry query, its records.

What maps onto our registry:

- `idtype-value`: `{"type": "NationalID", "value": "<NIK>"}` finds a person;
  `{"type": "FamilyCard", "value": "<KK number>"}` a family card (other spellings of
  the types: mapping.ID_TYPES);
- `predicate`: a list of `{expression1: {attribute_name, operator, attribute_value}}`,
  all joined by `and` (an item's own `condition`/`expression2` too): `region_code`
  (eq, in; a prefix of 2 to 10 digits selects the area below it), `birth_date` (eq, lt,
  le, gt, ge), `sex` (eq), and for groups `poverty_score` (our welfare decile; eq, lt,
  le, gt, ge).

Refused with the standard's reason codes: `expression` and `graphql` queries, `or`
and `not` (rjct.search_criteria.invalid), other attributes and operators
(rjct.filter.invalid), unknown sort attributes (rjct.sort.invalid), a page size
outside 1..MAX_PAGE_SIZE (rjct.pagination.invalid). A Group answer needs the peer's
`dci.household` scope, and so does asking by what only a household scope may know: a
FamilyCard number (rjct.search_criteria.invalid) or a region_code (rjct.filter.invalid)
— else a person-scoped peer could list a family's members or an area's residents.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from backend.dci import mapping
from backend.dci.envelope import SearchReason, Status, timestamp
from backend.dci.mapping import Scope, Shown
from backend.registry import households
from backend.registry.models import Citizen, Household, HouseholdMember

MAX_PAGE_SIZE = 100
OPERATORS = {"eq": "__eq__", "lt": "__lt__", "le": "__le__", "gt": "__gt__", "ge": "__ge__"}
SORTS: dict[str, dict[str, Any]] = {
    "Person": {"birth_date": Citizen.birth_date, "registration_date": Citizen.created_at,
               "national_id": Citizen.national_number},
    "Group": {"poverty_score": Household.welfare_decile,
              "registration_date": Household.created_at, "region_code": Household.region_code}}


class Refused(ValueError):
    """This item is refused; its reason code and message go in its response."""

    def __init__(self, code: SearchReason, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Page:
    size: int
    number: int


def record_type(criteria: dict[str, Any]) -> str:
    """"Group" or "Person": what the peer asked to get back."""
    entity = criteria.get("response_entity")
    wanted = str(entity or criteria.get("reg_record_type") or "Person")
    return "Group" if "group" in wanted.lower() else "Person"


def answer_item(sess: Session, item: Any, scope: Scope, shown: Shown) -> dict[str, Any]:
    """The `search_response` entry for one `search_request` item."""
    reference = item.get("reference_id") if isinstance(item, dict) else None
    out: dict[str, Any] = {"reference_id": str(reference or ""), "timestamp": timestamp()}
    try:
        if not isinstance(reference, str) or not reference:
            raise Refused(SearchReason.REFERENCE_ID, "reference_id is required")
        criteria = item.get("search_criteria")
        if not isinstance(criteria, dict):
            raise Refused(SearchReason.CRITERIA, "search_criteria is required")
        kind = record_type(criteria)
        if kind == "Group" and not scope.household:
            raise Refused(SearchReason.CRITERIA, "this peer's scope does not cover groups "
                          "(dci.household)")
        page = _page(criteria.get("pagination"))
        records, total = _run(sess, kind, criteria, page, scope, shown)
    except Refused as refused:
        out.update(status=Status.REJECTED.value, status_reason_code=refused.code.value,
                   status_reason_message=str(refused)[:999])
        return out
    out.update(status=Status.SUCCESS.value,
               data={"version": "1.0.0", "reg_type": mapping.REG_TYPE,
                     "reg_record_type": kind, "reg_records": records},
               pagination={"page_size": page.size, "page_number": page.number,
                           "total_count": total})
    locale = item.get("locale")
    if isinstance(locale, str) and len(locale) == 3 and locale.isalpha() and locale.islower():
        out["locale"] = locale
    return out


def _page(raw: Any) -> Page:
    if raw is None:
        return Page(MAX_PAGE_SIZE, 1)
    if not isinstance(raw, dict):
        raise Refused(SearchReason.PAGINATION, "pagination is an object")
    numbers = []
    for value in (raw.get("page_size"), raw.get("page_number", 1)):
        if type(value) is not int:  # not 2.0, nor 1e999 or NaN (int() of those raises)
            raise Refused(SearchReason.PAGINATION, "page_size and page_number are integers")
        numbers.append(value)
    size, number = numbers
    if not 1 <= size <= MAX_PAGE_SIZE or not 1 <= number <= 1_000_000:
        raise Refused(SearchReason.PAGINATION, f"page_size is 1 to {MAX_PAGE_SIZE}, "
                      "page_number 1 or more")
    return Page(size, number)


def _run(sess: Session, kind: str, criteria: dict[str, Any], page: Page, scope: Scope,
         shown: Shown) -> tuple[list[dict[str, Any]], int]:
    model: Any = Household if kind == "Group" else Citizen
    statement = select(model).where(*_conditions(kind, criteria, scope))
    total = sess.execute(select(func.count()).select_from(statement.subquery())).scalar_one()
    ordered = _sorted(statement, kind, criteria.get("sort")).limit(page.size).offset(
        (page.number - 1) * page.size)
    rows = list(sess.execute(ordered).scalars())
    if kind == "Person":
        records = []
        for person in rows:
            record, names = mapping.person(person, scope)
            shown.add(person.id, names)
            records.append(record)
        return records, total
    return [mapping.group(family, [(m.relationship, c) for m, c in
                                   households.members(sess, family.id)], scope, shown)
            for family in rows], total


def _sorted(statement: Select[Any], kind: str, sort: Any) -> Select[Any]:
    model: Any = Household if kind == "Group" else Citizen
    if sort is None:
        return statement.order_by(model.id)
    if not isinstance(sort, list):
        raise Refused(SearchReason.SORT, "sort is a list")
    columns = []
    for entry in sort:
        name = entry.get("attribute_name") if isinstance(entry, dict) else None
        column = SORTS[kind].get(str(name))
        order = entry.get("sort_order", "asc") if isinstance(entry, dict) else None
        if column is None or order not in ("asc", "desc"):
            raise Refused(SearchReason.SORT, f"sort by one of {', '.join(SORTS[kind])}, "
                          "asc or desc")
        columns.append(column.desc() if order == "desc" else column.asc())
    return statement.order_by(*columns, model.id)


def _conditions(kind: str, criteria: dict[str, Any], scope: Scope) -> list[Any]:
    query_type, query = criteria.get("query_type"), criteria.get("query")
    if query_type == "idtype-value":
        return _by_identifier(kind, query, scope)
    if query_type == "predicate":
        return _by_predicates(kind, query, scope)
    raise Refused(SearchReason.CRITERIA, "query_type must be idtype-value or predicate "
                  "(expression and graphql queries are not supported)")


def _by_identifier(kind: str, query: Any, scope: Scope) -> list[Any]:
    if not isinstance(query, dict) or not isinstance(query.get("type"), str):
        raise Refused(SearchReason.CRITERIA, "an idtype-value query is {type, value}")
    id_type = mapping.ID_TYPES.get(query["type"].lower())
    value = query.get("value")
    if id_type is None or not isinstance(value, str | int) or isinstance(value, bool) \
            or not 0 < len(str(value)) <= 32:
        raise Refused(SearchReason.CRITERIA, "type is NationalID or FamilyCard, with its "
                      "number as value")
    number = str(value).strip()
    if id_type != mapping.NATIONAL_ID and not scope.household:
        raise Refused(SearchReason.CRITERIA, "this peer's scope does not cover family cards "
                      "(dci.household)")
    if id_type == mapping.NATIONAL_ID:
        if kind == "Person":
            return [Citizen.national_number == number]
        return [Household.id.in_(_households_of(number))]
    if kind == "Group":
        return [Household.family_card_number == number]
    family = select(Household.id).where(Household.family_card_number == number)
    return [Citizen.id.in_(_member_ids(family))]


def _households_of(national_number: str) -> Select[Any]:
    return (select(HouseholdMember.household_id)
            .join(Citizen, Citizen.id == HouseholdMember.citizen_id)
            .where(Citizen.national_number == national_number))


def _member_ids(family: Select[Any]) -> Select[Any]:
    return select(HouseholdMember.citizen_id).where(HouseholdMember.household_id.in_(family))


def _by_predicates(kind: str, query: Any, scope: Scope) -> list[Any]:
    if not isinstance(query, list) or not query or len(query) > 20:
        raise Refused(SearchReason.CRITERIA, "a predicate query is a list of 1 to 20 items")
    conditions = []
    for item in query:
        if not isinstance(item, dict) or not isinstance(item.get("expression1"), dict):
            raise Refused(SearchReason.CRITERIA, "each predicate has an expression1")
        conditions.append(_expression(kind, item["expression1"], scope))
        if item.get("condition") is not None or item.get("expression2") is not None:
            if item.get("condition") != "and" or not isinstance(item.get("expression2"), dict):
                raise Refused(SearchReason.CRITERIA, "predicates are joined by and only")
            conditions.append(_expression(kind, item["expression2"], scope))
    return conditions


def _expression(kind: str, expression: dict[str, Any], scope: Scope) -> Any:
    name, operator = expression.get("attribute_name"), expression.get("operator")
    value = expression.get("attribute_value")
    model: Any = Household if kind == "Group" else Citizen
    if name == "region_code":
        if not scope.household:
            raise Refused(SearchReason.FILTER, "this peer's scope does not cover areas "
                          "(dci.household)")
        return _region(model.region_code, operator, value)
    if name == "birth_date" and kind == "Person" and operator in OPERATORS:
        try:
            day = dt.date.fromisoformat(str(value)[:10]) if isinstance(value, str) else None
        except ValueError:
            day = None
        if day is None:
            raise Refused(SearchReason.FILTER, "birth_date is compared with an ISO date")
        return getattr(Citizen.birth_date, OPERATORS[operator])(day)
    if name == "sex" and kind == "Person" and operator == "eq":
        sex = mapping.SEX_BACK.get(str(value).lower())
        if sex is None:
            raise Refused(SearchReason.FILTER, "sex is female or male")
        return Citizen.sex == sex
    if name == "poverty_score" and kind == "Group" and operator in OPERATORS:
        if type(value) is not int or not 1 <= value <= 10:
            raise Refused(SearchReason.FILTER, "poverty_score is our welfare decile, 1 to 10")
        return getattr(Household.welfare_decile, OPERATORS[operator])(value)
    raise Refused(SearchReason.FILTER, f"cannot filter {kind} records by {name!r} "
                  f"with {operator!r}")


def _region(column: Any, operator: Any, value: Any) -> Any:
    values = value if operator == "in" else [value]
    if operator not in ("eq", "in") or not isinstance(values, list) or not 0 < len(values) <= 50 \
            or not all(isinstance(v, str) and v.isdigit() and 2 <= len(v) <= 10
                       for v in values):
        raise Refused(SearchReason.FILTER, "region_code: eq or in, codes of 2 to 10 digits")
    return or_(*[column == v if len(v) == 10 else column.startswith(v, autoescape=True)
                 for v in values])
