"""The registry's JSON API: people, households, and the facts services decide on.

Admins and clerks write; admins, clerks, auditors and counter terminals read. Every
read of a person's data names its purpose (the `purpose` query parameter) and is
written to the audit log in the same transaction as the answer.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from backend.api.routing import Api
from backend.auth.principal import Requirement, current_principal
from backend.config import PREFIX, ConfigError
from backend.db import session
from backend.errors import ApiError
from backend.reasons import Reason
from backend.registry import facts, households, national_ids, service, trail
from backend.registry import history as history_module
from backend.registry.dedup import review
from backend.registry.models import Citizen, Household
from backend.registry.schemas import (
    CitizenBrief,
    CitizenIn,
    CitizenOut,
    CitizenPage,
    CitizenPatch,
    DeathIn,
    EnrolmentIn,
    EnrolmentOut,
    EnrolmentPatch,
    HealthIn,
    HealthOut,
    HistoryOut,
    HouseholdIn,
    HouseholdOut,
    HouseholdPatch,
    MemberIn,
    MemberOut,
    MembershipOut,
    ReadQuery,
    SearchQuery,
)

api = Api("registry", tag="registry")

WRITE = Requirement(roles=("admin", "clerk"))
READ = Requirement(roles=("admin", "clerk", "auditor"), terminal_kinds=("counter",))
SHAPE = (Reason.MALFORMED_JSON, Reason.VALIDATION_FAILED, Reason.UNKNOWN_FIELD)
NUMBER = (Reason.INVALID_NATIONAL_NUMBER, Reason.DUPLICATE_NATIONAL_NUMBER)


def _only_terminals_and_staff() -> None:
    """A card session at a counter reads nothing here: the counter's staff do."""
    principal = current_principal()
    if principal is not None and principal.kind == "card":
        raise ApiError(Reason.FORBIDDEN, "a card session cannot read the registry", 403)


def citizen_out(person: Citizen) -> tuple[CitizenOut, list[str]]:
    """The full record and the names of the parts it shows (for the read's audit entry)."""
    sess = session()
    out = CitizenOut.model_validate(person)
    out.pending_review = review.pending_review(sess, person.id)
    out.duplicate_of = review.duplicate_of(sess, person.id)
    shown = list(service.PERSONAL_FIELDS)
    found = households.membership(sess, person.id)
    if found is not None:
        member, family = found
        out.household = MembershipOut(household_id=family.id,
                                      family_card_number=family.family_card_number,
                                      relationship=member.relationship,
                                      welfare_decile=family.welfare_decile)
        shown.append("household")
    out.enrolments = [EnrolmentOut.model_validate(e) for e in facts.enrolments(sess, person.id)]
    if out.enrolments:
        shown.append("school_enrolments")
    assignment = sess.get(facts.HealthAssignment, person.id)
    if assignment is not None:
        out.health = HealthOut.model_validate(assignment)
        shown.append("health_assignment")
    return out, shown


@api.route("/citizens", "POST", summary="Register a person", auth=WRITE, body=CitizenIn,
           response=CitizenOut, status=201, reasons=SHAPE + NUMBER)
def create_citizen(body: CitizenIn) -> CitizenOut:
    """A national number already registered is refused; a person who only looks like
    someone registered is created with `pending_review`, and the pair goes to the
    clerks' queue (GET /duplicates)."""
    sess = session()
    person = service.create_citizen(sess, body.model_dump())
    review.check_citizen(sess, person, "registration")
    return citizen_out(person)[0]


@api.route("/citizens", "GET", summary="Search people by national number and name",
           auth=READ, query=SearchQuery, response=CitizenPage,
           reasons=(Reason.VALIDATION_FAILED, Reason.FORBIDDEN))
def search_citizens(query: SearchQuery) -> CitizenPage:
    """Name matching is case-insensitive on any part of the name; pages are by id."""
    _only_terminals_and_staff()
    sess = session()
    people, more = service.search(sess, number=query.number, name=query.name,
                                  page=query.page, per_page=query.per_page)
    service.log_reads(sess, people, query.purpose, service.BRIEF_FIELDS)
    items = [CitizenBrief(id=p.id, national_number=p.national_number, full_name=p.full_name,
                          birth_year=p.birth_date.year, deceased=p.died_on is not None)
             for p in people]
    return CitizenPage(items=items, page=query.page, per_page=query.per_page, has_more=more)


@api.route("/citizens/<int:citizen_id>", "GET", summary="A person's record", auth=READ,
           query=ReadQuery, response=CitizenOut, reasons=(Reason.NOT_FOUND, Reason.FORBIDDEN))
def read_citizen(citizen_id: int, query: ReadQuery) -> CitizenOut:
    _only_terminals_and_staff()
    sess = session()
    person = service.require_citizen(sess, citizen_id)
    out, shown = citizen_out(person)
    service.log_reads(sess, [person], query.purpose, shown)
    return out


@api.route("/citizens/<int:citizen_id>", "PATCH", summary="Correct a person's record",
           auth=WRITE, body=CitizenPatch, response=CitizenOut,
           reasons=SHAPE + NUMBER + (Reason.NOT_FOUND, Reason.CITIZEN_DECEASED))
def update_citizen(citizen_id: int, body: CitizenPatch) -> CitizenOut:
    sess = session()
    person = service.require_citizen(sess, citizen_id)
    service.update_citizen(sess, person, body.model_dump(exclude_unset=True))
    return citizen_out(person)[0]


@api.route("/citizens/<int:citizen_id>", "DELETE", summary="Refused: people are not deleted",
           auth=WRITE, reasons=(Reason.DELETE_NOT_ALLOWED,))
def delete_citizen(citizen_id: int) -> None:
    """A person is never deleted; record a death with POST .../death instead."""
    raise ApiError(Reason.DELETE_NOT_ALLOWED,
                   "people are not deleted; record a death with POST /citizens/{id}/death",
                   405, {"citizen_id": citizen_id}, headers={"Allow": "GET, PATCH"})


@api.route("/citizens/<int:citizen_id>/death", "POST", summary="Record a person's death",
           auth=WRITE, body=DeathIn, response=CitizenOut,
           reasons=SHAPE + (Reason.NOT_FOUND, Reason.CITIZEN_DECEASED))
def record_death(citizen_id: int, body: DeathIn) -> CitizenOut:
    sess = session()
    person = service.require_citizen(sess, citizen_id)
    service.record_death(sess, person, body.died_on, body.certificate_ref)
    return citizen_out(person)[0]


@api.route("/citizens/<int:citizen_id>/history", "GET", summary="Who changed what, when",
           auth=READ, query=ReadQuery, response=HistoryOut,
           reasons=(Reason.NOT_FOUND, Reason.FORBIDDEN))
def citizen_history(citizen_id: int, query: ReadQuery) -> HistoryOut:
    _only_terminals_and_staff()
    sess = session()
    person = service.require_citizen(sess, citizen_id)
    changes = history_module.for_citizen(sess, citizen_id)
    service.log_reads(sess, [person], query.purpose, ["history"])
    return HistoryOut.model_validate({"citizen_id": citizen_id, "changes": changes})


@api.route("/citizens/<int:citizen_id>/enrolments", "POST", summary="Record a school enrolment",
           auth=WRITE, body=EnrolmentIn, response=EnrolmentOut, status=201,
           reasons=SHAPE + (Reason.NOT_FOUND, Reason.CITIZEN_DECEASED))
def add_enrolment(citizen_id: int, body: EnrolmentIn) -> EnrolmentOut:
    sess = session()
    person = service.require_citizen(sess, citizen_id)
    return EnrolmentOut.model_validate(facts.add_enrolment(sess, person, body.model_dump()))


@api.route("/citizens/<int:citizen_id>/enrolments/<int:enrolment_id>", "PATCH",
           summary="Change a school enrolment (grade, year, active)", auth=WRITE,
           body=EnrolmentPatch, response=EnrolmentOut,
           reasons=SHAPE + (Reason.NOT_FOUND, Reason.CITIZEN_DECEASED))
def update_enrolment(citizen_id: int, enrolment_id: int, body: EnrolmentPatch) -> EnrolmentOut:
    sess = session()
    person = service.require_citizen(sess, citizen_id)
    enrolment = facts.update_enrolment(sess, person, enrolment_id,
                                       body.model_dump(exclude_unset=True))
    return EnrolmentOut.model_validate(enrolment)


@api.route("/citizens/<int:citizen_id>/health", "PUT",
           summary="Set a person's health insurance class and clinic", auth=WRITE,
           body=HealthIn, response=HealthOut,
           reasons=SHAPE + (Reason.NOT_FOUND, Reason.CITIZEN_DECEASED))
def set_health(citizen_id: int, body: HealthIn) -> HealthOut:
    sess = session()
    person = service.require_citizen(sess, citizen_id)
    return HealthOut.model_validate(facts.set_health(sess, person, body.model_dump()))


def household_out(family: Household) -> HouseholdOut:
    rows = households.members(session(), family.id)
    data: dict[str, Any] = {k: getattr(family, k) for k in (
        "id", "family_card_number", "head_citizen_id", "region_code", "welfare_decile",
        "created_at", "updated_at")}
    data["members"] = [MemberOut(citizen_id=c.id, full_name=c.full_name,
                                 relationship=m.relationship) for m, c in rows]
    return HouseholdOut.model_validate(data)


HOUSEHOLD_REFUSALS = (Reason.NOT_FOUND, Reason.HEAD_NOT_MEMBER, Reason.CITIZEN_DECEASED,
                      Reason.ALREADY_IN_HOUSEHOLD)


@api.route("/households", "POST", summary="Register a family card with its members",
           auth=WRITE, body=HouseholdIn, response=HouseholdOut, status=201,
           reasons=SHAPE + HOUSEHOLD_REFUSALS + (Reason.DUPLICATE_FAMILY_CARD,
                                                 Reason.INVALID_FAMILY_CARD_NUMBER))
def create_household(body: HouseholdIn) -> HouseholdOut:
    """`members` lists everyone on the card, the head among them with relationship head."""
    fields = body.model_dump(exclude={"members"})
    listed = [(m.citizen_id, m.relationship) for m in body.members]
    return household_out(households.create_household(session(), fields, listed))


@api.route("/households/<int:household_id>", "GET", summary="A family card and its members",
           auth=READ, query=ReadQuery, response=HouseholdOut,
           reasons=(Reason.NOT_FOUND, Reason.FORBIDDEN))
def read_household(household_id: int, query: ReadQuery) -> HouseholdOut:
    _only_terminals_and_staff()
    sess = session()
    out = household_out(households.require_household(sess, household_id))
    for member in out.members:
        trail.read(sess, member.citizen_id, query.purpose,
                           ["household", "full_name", "relationship"])
    return out


@api.route("/households/<int:household_id>", "PATCH",
           summary="Change the head, the region or the welfare decile", auth=WRITE,
           body=HouseholdPatch, response=HouseholdOut, reasons=SHAPE + HOUSEHOLD_REFUSALS)
def update_household(household_id: int, body: HouseholdPatch) -> HouseholdOut:
    """A new head must already be a member; the old head takes previous_head_relationship."""
    sess = session()
    family = households.require_household(sess, household_id)
    fields = body.model_dump(exclude_unset=True, exclude={"previous_head_relationship"})
    households.update_household(sess, family, fields, body.previous_head_relationship)
    return household_out(family)


@api.route("/households/<int:household_id>/members", "POST", summary="Add a member",
           auth=WRITE, body=MemberIn, response=HouseholdOut, status=201,
           reasons=SHAPE + HOUSEHOLD_REFUSALS)
def add_member(household_id: int, body: MemberIn) -> HouseholdOut:
    sess = session()
    family = households.require_household(sess, household_id)
    households.add_member(sess, family, body.citizen_id, body.relationship)
    return household_out(family)


@api.route("/households/<int:household_id>/members/<int:citizen_id>", "DELETE",
           summary="Take a member off the card (not the head)", auth=WRITE, status=204,
           reasons=(Reason.NOT_FOUND, Reason.HEAD_NOT_MEMBER))
def remove_member(household_id: int, citizen_id: int) -> tuple[None, int]:
    sess = session()
    households.remove_member(sess, households.require_household(sess, household_id),
                             citizen_id)
    return None, 204


def init_app(app: Flask) -> None:
    """Refuse to start with a national number format the registry cannot check."""
    formats = tuple(app.config["NATIONAL_ID_FORMATS"])
    unknown = national_ids.unknown_formats(formats)
    if unknown or not formats:
        raise ConfigError(f"{PREFIX}NATIONAL_ID_FORMATS: {', '.join(unknown) or 'empty'} "
                          f"(known: {', '.join(national_ids.FORMATS)})")
