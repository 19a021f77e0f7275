"""Households (family cards): members, the head, and the welfare decile.

The head is always a member with the relationship `head`; every change keeps that
true (the database checks it too, at commit). A person is on one family card at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.errors import ApiError
from backend.reasons import Reason
from backend.registry import history, national_ids, trail
from backend.registry.history import Actor
from backend.registry.models import MAX_ID, Citizen, Household, HouseholdMember
from backend.registry.service import require_citizen

HOUSEHOLD_FIELDS = ("family_card_number", "head_citizen_id", "region_code", "welfare_decile")


def require_household(sess: Session, household_id: int) -> Household:
    family = sess.get(Household, household_id) if 0 < household_id <= MAX_ID else None
    if family is None:
        raise ApiError(Reason.NOT_FOUND, f"no household {household_id}", 404,
                       {"household_id": household_id})
    return family


def membership(sess: Session, citizen_id: int) -> tuple[HouseholdMember, Household] | None:
    row = sess.execute(select(HouseholdMember, Household)
                       .join(Household, Household.id == HouseholdMember.household_id)
                       .where(HouseholdMember.citizen_id == citizen_id)).first()
    return None if row is None else (row[0], row[1])


def members(sess: Session, household_id: int) -> list[tuple[HouseholdMember, Citizen]]:
    rows = sess.execute(select(HouseholdMember, Citizen)
                        .join(Citizen, Citizen.id == HouseholdMember.citizen_id)
                        .where(HouseholdMember.household_id == household_id)
                        .order_by(HouseholdMember.relationship != "head", Citizen.birth_date))
    return [(m, c) for m, c in rows]


def _check_member_list(head_id: int, listed: Sequence[tuple[int, str]]) -> None:
    ids = [citizen_id for citizen_id, _ in listed]
    if len(set(ids)) != len(ids):
        raise _invalid("members", "a person is listed twice")
    relations = dict(listed)
    if head_id not in relations:
        raise ApiError(Reason.HEAD_NOT_MEMBER, "the head must be one of the members", 422,
                       {"head_citizen_id": head_id, "members": ids})
    heads = [cid for cid, relation in listed if relation == "head"]
    if heads != [head_id]:
        raise _invalid("members", "exactly the head_citizen_id member has relationship head")


def _invalid(field: str, problem: str) -> ApiError:
    return ApiError(Reason.VALIDATION_FAILED, problem, 400,
                    {"errors": [{"field": field, "problem": problem}]})


def _joinable(sess: Session, citizen_id: int) -> Citizen:
    person = require_citizen(sess, citizen_id)
    if person.died_on is not None:
        raise ApiError(Reason.CITIZEN_DECEASED, "a deceased person cannot join a household",
                       409, {"citizen_id": citizen_id})
    current = sess.scalar(select(HouseholdMember.household_id)
                          .where(HouseholdMember.citizen_id == citizen_id))
    if current is not None:
        raise ApiError(Reason.ALREADY_IN_HOUSEHOLD, "this person is on another family card",
                       409, {"citizen_id": citizen_id, "household_id": current})
    return person


def check_family_card(number: str) -> None:
    problem = national_ids.check_family_card(number)
    if problem:
        raise ApiError(Reason.INVALID_FAMILY_CARD_NUMBER, problem, 422,
                       {"family_card_number": number, "problem": problem})


def create_household(sess: Session, fields: dict[str, Any],
                     listed: Sequence[tuple[int, str]], actor: Actor | None = None
                     ) -> Household:
    """A family card with all its members, the head among them."""
    actor = actor or Actor.current()
    check_family_card(fields["family_card_number"])
    _check_member_list(fields["head_citizen_id"], listed)
    people = {cid: _joinable(sess, cid) for cid, _ in listed}
    if sess.scalar(select(Household.id).where(
            Household.family_card_number == fields["family_card_number"])) is not None:
        raise ApiError(Reason.DUPLICATE_FAMILY_CARD, "this family card number is taken", 409,
                       {"family_card_number": fields["family_card_number"]})
    head = people[fields["head_citizen_id"]]
    family = Household(**{**fields, "region_code": fields.get("region_code")
                          or head.region_code})
    sess.add(family)
    sess.flush()
    sess.add_all(HouseholdMember(household_id=family.id, citizen_id=cid, relationship=rel)
                 for cid, rel in listed)
    sess.flush()
    history.record(sess, actor, action="create", entity="household", entity_id=family.id,
                   citizen_id=None, changes={k: (None, getattr(family, k))
                                             for k in HOUSEHOLD_FIELDS})
    for cid, rel in listed:
        _log_membership(sess, actor, family, cid, "member_add", None, rel)
    trail.changed(sess, "household.create", subject_type="household", subject_id=family.id,
                  citizen_id=None, fields=HOUSEHOLD_FIELDS,
                  details={"members": [cid for cid, _ in listed]})
    return family


def _log_membership(sess: Session, actor: Actor, family: Household, citizen_id: int,
                    action: str, old: str | None, new: str | None) -> None:
    history.record(sess, actor, action=action, entity="household", entity_id=family.id,
                   citizen_id=citizen_id, changes={"relationship": (old, new)})


def update_household(sess: Session, family: Household, fields: dict[str, Any],
                     previous_head_relationship: str = "other",
                     actor: Actor | None = None) -> Household:
    actor = actor or Actor.current()
    if "head_citizen_id" in fields and fields["head_citizen_id"] is None:
        raise _invalid("head_citizen_id", "a household always has a head")
    if "region_code" in fields and fields["region_code"] is None:
        raise _invalid("region_code", "a household always has a region")
    changes = history.diff({k: getattr(family, k) for k in HOUSEHOLD_FIELDS}, fields)
    if "head_citizen_id" in changes:
        _move_head(sess, actor, family, changes["head_citizen_id"], previous_head_relationship)
    if not changes:
        return family
    for name, (_old, new) in changes.items():
        setattr(family, name, new)
    family.updated_at = func.current_timestamp()
    sess.flush()
    history.record(sess, actor, action="update", entity="household", entity_id=family.id,
                   citizen_id=None, changes=changes)
    trail.changed(sess, "household.update", subject_type="household", subject_id=family.id,
                  citizen_id=None, fields=changes)
    return family


def _move_head(sess: Session, actor: Actor, family: Household, change: tuple[int, int],
               previous_relationship: str) -> None:
    old_id, new_id = change
    rows = {m.citizen_id: m for m in sess.scalars(select(HouseholdMember).where(
        HouseholdMember.household_id == family.id))}
    if new_id not in rows:
        raise ApiError(Reason.HEAD_NOT_MEMBER, "the new head must already be a member", 422,
                       {"head_citizen_id": new_id, "household_id": family.id})
    new_member = rows[new_id]
    _log_membership(sess, actor, family, new_id, "head_change",
                    new_member.relationship, "head")
    new_member.relationship = "head"
    if old_id in rows:
        rows[old_id].relationship = previous_relationship
        _log_membership(sess, actor, family, old_id, "head_change", "head",
                        previous_relationship)


def add_member(sess: Session, family: Household, citizen_id: int, relationship: str,
               actor: Actor | None = None) -> HouseholdMember:
    actor = actor or Actor.current()
    _joinable(sess, citizen_id)
    member = HouseholdMember(household_id=family.id, citizen_id=citizen_id,
                             relationship=relationship)
    sess.add(member)
    sess.flush()
    _log_membership(sess, actor, family, citizen_id, "member_add", None, relationship)
    trail.changed(sess, "household.member_add", subject_type="household",
                  subject_id=family.id, citizen_id=citizen_id, fields=["relationship"])
    return member


def remove_member(sess: Session, family: Household, citizen_id: int,
                  actor: Actor | None = None) -> None:
    """Take a person off the card (a move, a marriage); the head cannot be removed."""
    actor = actor or Actor.current()
    member = sess.get(HouseholdMember, citizen_id) if 0 < citizen_id <= MAX_ID else None
    if member is None or member.household_id != family.id:
        raise ApiError(Reason.NOT_FOUND, "this person is not on this family card", 404,
                       {"household_id": family.id, "citizen_id": citizen_id})
    if citizen_id == family.head_citizen_id:
        raise ApiError(Reason.HEAD_NOT_MEMBER,
                       "the head must stay a member: name another head first", 422,
                       {"household_id": family.id, "head_citizen_id": citizen_id})
    _log_membership(sess, actor, family, citizen_id, "member_remove", member.relationship,
                    None)
    sess.delete(member)
    sess.flush()
    trail.changed(sess, "household.member_remove", subject_type="household",
                  subject_id=family.id, citizen_id=citizen_id, fields=["relationship"])
