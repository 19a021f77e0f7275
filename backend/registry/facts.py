"""School enrolments and health insurance assignments: registry facts services use.

Education reads enrolments (who is in which grade this academic year), health and
family-hope read the JKN class and clinic. Each change is in the person's history.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.errors import ApiError
from backend.reasons import Reason
from backend.registry import history, trail
from backend.registry.history import Actor
from backend.registry.models import MAX_ID, Citizen, HealthAssignment, SchoolEnrolment

ENROLMENT_FIELDS = ("school_code", "school_name", "level", "grade", "academic_year", "active")
HEALTH_FIELDS = ("facility_code", "facility_name", "jkn_class", "premium_assisted", "active")


def _living(person: Citizen) -> None:
    if person.died_on is not None:
        raise ApiError(Reason.CITIZEN_DECEASED, "the record of a deceased person is closed",
                       409, {"citizen_id": person.id})


def enrolments(sess: Session, citizen_id: int) -> list[SchoolEnrolment]:
    return list(sess.scalars(select(SchoolEnrolment)
                             .where(SchoolEnrolment.citizen_id == citizen_id)
                             .order_by(SchoolEnrolment.id)))


def add_enrolment(sess: Session, person: Citizen, fields: dict[str, Any],
                  actor: Actor | None = None) -> SchoolEnrolment:
    actor = actor or Actor.current()
    _living(person)
    enrolment = SchoolEnrolment(citizen_id=person.id, **fields)
    sess.add(enrolment)
    sess.flush()
    history.record(sess, actor, action="create", entity="school_enrolment",
                   entity_id=enrolment.id, citizen_id=person.id,
                   changes={k: (None, getattr(enrolment, k)) for k in ENROLMENT_FIELDS})
    trail.changed(sess, "enrolment.create", subject_type="school_enrolment",
                  subject_id=enrolment.id, citizen_id=person.id, fields=ENROLMENT_FIELDS)
    return enrolment


def update_enrolment(sess: Session, person: Citizen, enrolment_id: int,
                     fields: dict[str, Any], actor: Actor | None = None) -> SchoolEnrolment:
    actor = actor or Actor.current()
    _living(person)
    enrolment = sess.get(SchoolEnrolment, enrolment_id) if enrolment_id <= MAX_ID else None
    if enrolment is None or enrolment.citizen_id != person.id:
        raise ApiError(Reason.NOT_FOUND, f"no enrolment {enrolment_id} for this citizen", 404,
                       {"enrolment_id": enrolment_id, "citizen_id": person.id})
    nulls = [k for k, v in fields.items() if v is None]
    if nulls:
        raise ApiError(Reason.VALIDATION_FAILED, "these fields cannot be emptied", 400,
                       {"errors": [{"field": n, "problem": "may not be null"} for n in nulls]})
    changes = history.diff({k: getattr(enrolment, k) for k in ENROLMENT_FIELDS}, fields)
    for name, (_old, new) in changes.items():
        setattr(enrolment, name, new)
    if changes:
        sess.flush()
        history.record(sess, actor, action="update", entity="school_enrolment",
                       entity_id=enrolment.id, citizen_id=person.id, changes=changes)
        trail.changed(sess, "enrolment.update", subject_type="school_enrolment",
                      subject_id=enrolment.id, citizen_id=person.id, fields=changes)
    return enrolment


def set_health(sess: Session, person: Citizen, fields: dict[str, Any],
               actor: Actor | None = None) -> HealthAssignment:
    """Create or replace the person's JKN membership and clinic."""
    actor = actor or Actor.current()
    _living(person)
    assignment = sess.get(HealthAssignment, person.id)
    before: dict[str, Any] = {}
    if assignment is None:
        assignment = HealthAssignment(citizen_id=person.id, **fields)
        sess.add(assignment)
        action = "create"
    else:
        before = {k: getattr(assignment, k) for k in HEALTH_FIELDS}
        for name, value in fields.items():
            setattr(assignment, name, value)
        action = "update"
    changes = history.diff(before, {k: fields[k] for k in HEALTH_FIELDS})
    if changes:
        sess.flush()
        history.record(sess, actor, action=action, entity="health_assignment",
                       entity_id=person.id, citizen_id=person.id, changes=changes)
        trail.changed(sess, f"health.{action}", subject_type="health_assignment",
                      subject_id=person.id, citizen_id=person.id, fields=changes)
    return assignment
