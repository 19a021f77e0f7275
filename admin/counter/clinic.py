"""Register a clinic visit: one question a page (who, what kind, when the baby is due),
then the answers to check, then one `health.register_visit` on the citizen's PIN
session, with an idempotency key from the check page so a double submit makes one."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from flask import redirect, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup
from werkzeug.wrappers import Response as BaseResponse

from admin.counter import record
from admin.counter.screen import (
    answers,
    blueprint,
    card,
    counter_advice,
    finish,
    finished,
    page,
    read,
    remember,
    run,
)
from admin.counter.words import VISIT_KINDS, relationship_words
from backend.api.routing import commit
from backend.auth.principal import Principal
from backend.db import session
from backend.errors import ApiError
from backend.registry.models import HealthAssignment

FORM = "clinic"
PURPOSE = "clinic_visit"


def _answers(principal: Principal) -> dict[str, Any]:
    return answers(principal, FORM)


def _patients(principal: Principal) -> tuple[record.Member, ...]:
    return record.patients(record.load(principal))


def _patient_options(choices: tuple[record.Member, ...]) -> list[tuple[Any, Markup, str]]:
    return [(m.citizen_id, Markup('<span translate="no">{}</span>').format(m.full_name),
             relationship_words(m.relationship)) for m in choices]


def _kind_options() -> list[tuple[str, Any, None]]:
    return [(code, label, None) for code, label in VISIT_KINDS.items()]


@blueprint.get("/clinic/patient")
def clinic_patient() -> BaseResponse | str:
    principal = card()
    choices = _patients(principal)
    if len(choices) == 1:  # nobody else on the family card: nothing to ask
        remember(principal, FORM, patient=choices[0].citizen_id)
        return redirect(url_for("counter.clinic_kind"), 303)
    read(principal, PURPOSE, ("household",))
    commit()
    return page("counter/clinic_patient.html", options=_patient_options(choices),
                chosen=_answers(principal).get("patient"))


@blueprint.post("/clinic/patient")
def clinic_patient_answer() -> BaseResponse | tuple[str, int]:
    principal = card()
    choices = _patients(principal)
    given = request.form.get("patient", "")
    chosen = next((m for m in choices if str(m.citizen_id) == given), None)
    if chosen is None:
        read(principal, PURPOSE, ("household",))
        commit()
        errors = [{"field": f"patient-{choices[0].citizen_id}",
                   "text": _("Choose who the visit is for")}]
        return page("counter/clinic_patient.html", options=_patient_options(choices),
                    chosen=None, errors=errors), 400
    remember(principal, FORM, patient=chosen.citizen_id)
    return redirect(url_for("counter.clinic_kind"), 303)


def _back_from_kind(principal: Principal) -> str:
    if len(_patients(principal)) == 1:
        return url_for("counter.citizen")
    return url_for("counter.clinic_patient")


@blueprint.get("/clinic/kind")
def clinic_kind() -> str:
    principal = card()
    return page("counter/clinic_kind.html", chosen=_answers(principal).get("kind"),
                options=_kind_options(), back=_back_from_kind(principal))


@blueprint.post("/clinic/kind")
def clinic_kind_answer() -> BaseResponse | tuple[str, int]:
    principal = card()
    kind = request.form.get("kind", "")
    if kind not in VISIT_KINDS:
        errors = [{"field": "kind-general", "text": _("Choose what kind of visit it is")}]
        return page("counter/clinic_kind.html", chosen=None, errors=errors,
                    options=_kind_options(), back=_back_from_kind(principal)), 400
    remember(principal, FORM, kind=kind)
    if kind == "antenatal":
        return redirect(url_for("counter.clinic_due"), 303)
    remember(principal, FORM, due=None)
    return redirect(url_for("counter.clinic_check"), 303)


@blueprint.get("/clinic/due-date")
def clinic_due() -> str:
    principal = card()
    due = _answers(principal).get("due")
    parts = dt.date.fromisoformat(due) if due else None
    return page("counter/clinic_due.html", day=parts.day if parts else "",
                month=parts.month if parts else "", year=parts.year if parts else "")


def due_date(form: Any) -> tuple[dt.date | None, str | None]:
    """The date from the day, month and year fields, or what is wrong with them."""
    day, month, year = (str(form.get(f, "")).strip() for f in ("day", "month", "year"))
    if not (day or month or year):
        return None, _("Enter the date the baby is due")
    if not (day.isdigit() and month.isdigit() and year.isdigit() and len(year) == 4):
        return None, _("The date the baby is due must be a real date, like 27 3 2027")
    try:
        return dt.date(int(year), int(month), int(day)), None
    except ValueError:
        return None, _("The date the baby is due must be a real date, like 27 3 2027")


@blueprint.post("/clinic/due-date")
def clinic_due_answer() -> BaseResponse | tuple[str, int]:
    principal = card()
    due, problem = due_date(request.form)
    if due is None:
        errors = [{"field": "due-day", "text": problem}]
        return page("counter/clinic_due.html", errors=errors, **{
            f: request.form.get(f, "")[:4] for f in ("day", "month", "year")}), 400
    remember(principal, FORM, due=due.isoformat())
    return redirect(url_for("counter.clinic_check"), 303)


def _check_page(principal: Principal,
                errors: list[dict[str, str | None]] | None = None) -> str:
    given = _answers(principal)
    choices = {m.citizen_id: m for m in _patients(principal)}
    chosen = given.get("patient")
    patient = choices.get(chosen) if chosen is not None else None
    cover = session().get(HealthAssignment, patient.citizen_id) if patient else None
    if patient is not None:
        read(principal, PURPOSE, ("full_name", "health_assignment"), patient.citizen_id)
    commit()
    return page("counter/clinic_check.html", patient=patient, cover=cover,
                kind=given.get("kind"), due=given.get("due"), errors=errors or [],
                key=secrets.token_urlsafe(18))


@blueprint.get("/clinic/check")
def clinic_check() -> BaseResponse | str:
    principal = card()
    given = _answers(principal)
    if "patient" not in given:
        return redirect(url_for("counter.clinic_patient"), 303)
    if given.get("kind") not in VISIT_KINDS or (given["kind"] == "antenatal"
                                                and not given.get("due")):
        return redirect(url_for("counter.clinic_kind"), 303)
    return _check_page(principal)


@blueprint.post("/clinic/check")
def clinic_register() -> BaseResponse | tuple[str, int]:
    principal = card()
    key = request.form.get("key")
    if done := finished(principal, key):
        return redirect(done, 303)
    given = _answers(principal)
    patient = given.get("patient")
    if patient not in {m.citizen_id for m in _patients(principal)} or given.get(
            "kind") not in VISIT_KINDS:
        return redirect(url_for("counter.clinic_patient"), 303)
    cover = session().get(HealthAssignment, patient)
    visit = {"kind": given["kind"], "facility_code": cover.facility_code if cover else "-",
             "patient_id": patient, "expected_delivery": given.get("due")}
    try:
        run(principal, PURPOSE, "health", "register_visit", key, visit)
        commit()
    except ApiError as error:
        session().rollback()
        found = counter_advice(error.reason.value)
        text = (_("The date the baby is due must be between today and 300 days from now")
                if error.details.get("field") == "expected_delivery"
                else f"{found.title}. {found.next_step}")
        return _check_page(principal, [{"field": None, "text": text}]), error.status
    return redirect(finish(principal, FORM, key, url_for("counter.citizen",
                                                          notice="visit_registered")), 303)
