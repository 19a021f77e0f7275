"""Changing a record: a correction with its reason, and a death.

Both call the registry's functions the API calls (`service.update_citizen`,
`service.record_death`), which check the national number, refuse a closed record and
write the history and the audit record. A correction states why: the reason is written
to the audit log, in the same transaction as the change, beside the registry's own
`registry.citizen.update` record (the registry's function takes no reason of its own).
A death is asked for on a form, then confirmed on a page that says what it does.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import redirect, request, url_for
from flask_babel import gettext as _
from pydantic import ValidationError

from admin.common.i18n import LANGUAGES
from admin.console import once, purposes, reads, words
from admin.console.blueprint import blueprint
from backend import audit
from backend.db import session
from backend.errors import ApiError
from backend.reasons import Reason
from backend.registry import service
from backend.registry.models import Citizen
from backend.registry.schemas import CitizenPatch, DeathIn

AREA = "citizens"
EDITABLE = ("full_name", "national_number", "birth_date", "sex", "address", "region_code",
            "language")
REASON_ACTION = "registry.citizen.update_reason"
MAX_REASON = 500
MAX_CERTIFICATE = 100

Errors = list[dict[str, str]]


def _field_words() -> dict[str, str]:
    return {
        "full_name": _("Enter the full name, as on the identity card"),
        "national_number": _("Enter the national number"),
        "birth_date": _("Enter the date of birth"),
        "sex": _("Choose the sex"),
        "address": _("Enter an address of at most 300 characters"),
        "region_code": _("Enter the region code: 10 digits"),
        "language": _("Choose a language"),
        "photo_ref": _("Check the photo reference"),
        "died_on": _("Enter the date of death, between the date of birth and today"),
        "certificate_ref": _("Enter a certificate number of at most 100 characters"),
    }


def _validation_errors(error: ValidationError) -> Errors:
    texts = _field_words()
    found: Errors = []
    for problem in error.errors():
        name = str(problem["loc"][0]) if problem["loc"] else ""
        if name in texts and not any(e["field"] == name for e in found):
            found.append({"field": name, "text": texts[name]})
    return found or [{"field": "", "text": _("Check the answers")}]


def _refusal_errors(error: ApiError) -> Errors:
    """A refusal of the registry, next to the field it is about."""
    if error.reason == Reason.VALIDATION_FAILED:
        texts = _field_words()
        named = [e.get("field") for e in error.details.get("errors", [])
                 if isinstance(e, dict)]
        found = [{"field": n, "text": texts[n]} for n in named if n in texts]
        if found:
            return found
    problem = words.refusal(error)
    return [{"field": problem.field or "", "text": f"{problem.title}. {problem.next_step}"}]


# --- correct a record ----------------------------------------------------------------


def _form_values(person: Citizen) -> dict[str, Any]:
    return {"full_name": person.full_name, "national_number": person.national_number,
            "birth_date": person.birth_date.isoformat(), "sex": person.sex,
            "address": person.address, "region_code": person.region_code,
            "language": person.language}


def _sent() -> dict[str, Any]:
    """The form's answers, as the API's PATCH body would carry them (empty is null)."""
    sent: dict[str, Any] = {}
    for name in EDITABLE:
        value = request.form.get(name, "").strip()
        sent[name] = value if value or name == "address" else None
    return sent


def _edit_page(person: Citizen, purpose: str, values: dict[str, Any], reason: str,
               errors: Errors) -> tuple[str, int]:
    languages = list(LANGUAGES) + ([person.language] if person.language not in LANGUAGES
                                   else [])
    return reads.shown("console/citizen_edit.html", purpose,
                       [(person.id, EDITABLE)], 400 if errors else 200,
                       person=person, values=values, reason=reason, errors=errors,
                       languages=languages, purpose_label=purposes.label("c", person.id))


@blueprint.route("/citizens/<int:citizen_id>/edit", methods=["GET", "POST"])
def citizen_edit(citizen_id: int) -> Any:
    purpose = purposes.require("c", citizen_id, url_for("console.citizen_edit",
                                                        citizen_id=citizen_id))
    person = service.require_citizen(session(), citizen_id)
    if request.method == "GET":
        return _edit_page(person, purpose, _form_values(person), "", [])
    sent = _sent()
    reason = request.form.get("reason", "").strip()
    errors: Errors = []
    try:
        fields = CitizenPatch.model_validate(sent).model_dump(exclude_unset=True)
    except ValidationError as error:
        errors, fields = _validation_errors(error), {}
    texts = _field_words()
    errors += [{"field": name, "text": texts[name]} for name in EDITABLE  # the domain's rule
               if sent[name] is None and name in service.NOT_NULL
               and not any(e["field"] == name for e in errors)]
    errors.sort(key=lambda e: EDITABLE.index(e["field"]) if e["field"] in EDITABLE else 99)
    if not reason:
        errors.append({"field": "reason", "text": _("Enter why you are making this change")})
    elif len(reason) > MAX_REASON:
        errors.append({"field": "reason", "text": _("Enter a reason of at most 500 characters")})
    if errors:
        return _edit_page(person, purpose, sent, reason, errors)
    repeated = once.claim()
    if repeated is not None:
        return repeated
    before = {name: getattr(person, name) for name in service.PERSONAL_FIELDS}
    try:
        service.update_citizen(session(), person, fields)
    except ApiError as error:
        session().rollback()
        person = service.require_citizen(session(), citizen_id)
        return _edit_page(person, purpose, sent, reason, _refusal_errors(error))
    changed = sorted(name for name in service.PERSONAL_FIELDS
                     if getattr(person, name) != before[name])
    if changed:
        audit.record(session(), action=REASON_ACTION, subject_type="citizen",
                     subject_id=str(person.id), citizen_id=person.id,
                     details={"reason": reason, "fields": changed})
    done = "edited" if changed else "unchanged"
    return once.finish(redirect(url_for("console.citizen", citizen_id=citizen_id,
                                        done=done), 303))


# --- record a death ------------------------------------------------------------------


def _death_sent() -> tuple[dict[str, Any], Errors]:
    died_on = request.form.get("died_on", "").strip()
    certificate = request.form.get("certificate_ref", "").strip()
    sent = {"died_on": died_on, "certificate_ref": certificate or None}
    try:
        DeathIn.model_validate(sent)
    except ValidationError as error:
        return sent, _validation_errors(error)
    return sent, []


@blueprint.route("/citizens/<int:citizen_id>/death", methods=["GET", "POST"])
def citizen_death(citizen_id: int) -> Any:
    """GET: the form. POST: the confirmation (step=check), then the death (step=do)."""
    here = url_for("console.citizen_death", citizen_id=citizen_id)
    purpose = purposes.require("c", citizen_id, here)
    person = service.require_citizen(session(), citizen_id)
    shown = [(citizen_id, ["full_name", "birth_date"])]
    context: dict[str, Any] = {"person": person,
                               "purpose_label": purposes.label("c", citizen_id),
               "today": dt.date.today().isoformat()}
    if request.method == "GET":
        return reads.shown("console/death.html", purpose, shown, sent={}, **context)
    sent, errors = _death_sent()
    if errors:
        return reads.shown("console/death.html", purpose, shown, 400, sent=sent,
                           errors=errors, **context)
    if request.form.get("step") != "do":
        return reads.shown("console/death_confirm.html", purpose, shown, sent=sent,
                           died_on=dt.date.fromisoformat(sent["died_on"]), **context)
    repeated = once.claim()
    if repeated is not None:
        return repeated
    try:
        service.record_death(session(), person, dt.date.fromisoformat(sent["died_on"]),
                             sent["certificate_ref"])
    except ApiError as error:
        session().rollback()
        person = service.require_citizen(session(), citizen_id)
        context["person"] = person
        return reads.shown("console/death.html", purpose, shown, 400, sent=sent,
                           errors=_refusal_errors(error), **context)
    return once.finish(redirect(url_for("console.citizen", citizen_id=citizen_id,
                                        done="death"), 303))
