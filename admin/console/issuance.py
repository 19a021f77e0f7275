"""Issuance: cards made at an enrolment desk, from the request to the working card.

An admin chooses the person (by national number, or from the person's record) and a
desk that is turned on, checks both on a confirmation page, and starts the job with
`cards.desk.start`, the function the API's `POST /issuance-jobs` calls (the rules are
there: one open job per person, a living person, a working desk). The desk's reader
daemon then claims the job when a blank card is in its reader, has the card make its
keys, gets them certified and reports the card written; the job's page follows those
steps by itself (htmx polling of `issuance_progress`, no inline script) and reloads
when the state changes, so its buttons always fit the job.

Cancel calls `desk.cancel`. Trying again is what the back end offers a half-finished
job: `desk.start(..., resume=True)` at the same desk gives up the attempt the desk
still holds (failed, "abandoned") so its next blank card takes the job up again with
a fresh serial; a failed job is taken up by the desk's next blank card by itself.

Pages that name the person record the read with the purpose "issuing, replacing or
stopping the citizen's card" (`purposes.PURPOSES["card"]`): that is what an admin in
this area is doing. The polled fragment shows only the job's steps, and reads nobody.
"""

from __future__ import annotations

from typing import Any

from flask import Response, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from admin.console import once, purposes, reads, words
from admin.console.blueprint import admin, blueprint, page
from backend.api.routing import commit
from backend.cards import desk
from backend.cards.desk_models import HELD_STATUSES, OPEN_STATUSES, IssuanceJob
from backend.cards.models import Card
from backend.db import session
from backend.errors import ApiError
from backend.identity import accounts
from backend.identity.models import Terminal
from backend.reasons import Reason
from backend.registry import service, trail
from backend.registry.models import Citizen

POLL_SECONDS = 2
LISTED = 50
MAX_NUMBER = 32
PURPOSE = purposes.PURPOSES["card"][1]
NAMED = ("full_name",)
CHECKED = ("full_name", "national_number")
STATUS = {
    "requested": _l("Waiting for a blank card at the desk"),
    "claimed": _l("The desk is making the card"),
    "keys_certified": _l("Keys certified: the desk is writing the card"),
    "active": _l("Made: the card works"),
    "failed": _l("Not finished: waiting for the next blank card"),
    "cancelled": _l("Cancelled"),
}
STATUS_TAG = {"requested": "warn", "claimed": "warn", "keys_certified": "warn",
              "active": "good", "failed": "bad", "cancelled": "bad"}
NOTICES = {"started": _l("The card is asked for. Put a blank card in the desk's reader: "
                         "this page shows each step as the desk does it."),
           "cancelled": _l("The card was cancelled. No card from this job will ever work."),
           "retried": _l("The desk's unfinished attempt was given up. The next blank card "
                         "put in the desk's reader takes the job up again.")}

Errors = list[dict[str, str]]


def status_words(status: str) -> str:
    return str(STATUS.get(status, status))


@blueprint.context_processor
def _issuance_words() -> dict[str, Any]:
    return {"issuance_status": status_words, "ISSUANCE_TAG": STATUS_TAG,
            "ISSUANCE_OPEN": OPEN_STATUSES, "ISSUANCE_HELD": HELD_STATUSES,
            "ISSUANCE_POLL": POLL_SECONDS}


def _people(ids: set[int]) -> dict[int, Citizen]:
    if not ids:
        return {}
    found = session().execute(select(Citizen).where(Citizen.id.in_(ids))).scalars()
    return {person.id: person for person in found}


def _desk_names() -> dict[str, str]:
    """Every desk's name, turned off or not: an old job names the desk it was for."""
    return {t.id: t.name for t in accounts.list_terminals(session(), "desk")}


def active_desks() -> list[tuple[str, str]]:
    """The desks a card can be asked from: enrolment desks that are turned on."""
    return [(t.id, t.name) for t in accounts.list_terminals(session(), "desk", True)]


@blueprint.get("/issuance")
def issuance() -> tuple[str, int]:
    """The newest jobs first; naming their people is a read with this area's purpose."""
    jobs = desk.list_jobs(session(), limit=LISTED)
    people = _people({job.citizen_id for job in jobs})
    return reads.shown("console/issuance.html", PURPOSE,
                       [(pid, NAMED) for pid in sorted(people)], jobs=jobs, people=people,
                       desks=_desk_names())


# --- asking for a card ----------------------------------------------------------------


def _by_number(number: str) -> Citizen | None:
    """The registry's own search by national number (the API's), exact."""
    found, _more = service.search(session(), number=number, name=None, page=1, per_page=1)
    return found[0] if found else None


def _asked() -> tuple[dict[str, str], Errors, Citizen | None]:
    """The form's answers, what is wrong with them, and the person they name."""
    sent = {"number": request.form.get("number", "").strip()[:MAX_NUMBER],
            "desk": request.form.get("desk", "")}
    errors: Errors = []
    person = None
    if not sent["number"]:
        errors.append({"field": "number", "text": _("Enter the person's national number")})
    else:
        person = _by_number(sent["number"])
        if person is None:
            errors.append({"field": "number", "text": _("Nobody has this national number. "
                                                        "Check it on the identity card.")})
        elif person.died_on is not None:
            errors.append({"field": "number", "text": _("This person has died: no card can "
                                                        "be made.")})
    if sent["desk"] not in dict(active_desks()):
        errors.append({"field": "desk", "text": _("Choose the enrolment desk that makes the "
                                                  "card")})
    return sent, errors, person


def _prefilled() -> dict[str, str]:
    """From a person's record (`?citizen=<id>`): their number, read with this purpose."""
    asked = request.args.get("citizen", "")
    person = service.get_citizen(session(), int(asked)) if asked.isdigit() and \
        len(asked) < 12 else None
    if person is None:
        return {"number": "", "desk": ""}
    trail.read(session(), person.id, PURPOSE, ("national_number",))
    return {"number": person.national_number, "desk": ""}


def _new_form(status: int = 200, sent: dict[str, str] | None = None,
              errors: Errors | None = None) -> tuple[str, int]:
    return page("console/issuance_new.html", status, desks=active_desks(),
                sent=sent or {"number": "", "desk": ""}, errors=errors or [])


def _refused(error: ApiError) -> Errors:
    """A refusal of the back end, in words, beside the field it is about."""
    if error.reason == Reason.TERMINAL_DISABLED:
        return [{"field": "desk", "text": _("That desk was turned off. Choose another "
                                            "desk.")}]
    if error.reason == Reason.NOT_FOUND:
        return [{"field": "number", "text": _("Nobody has this national number. Check it "
                                              "on the identity card.")}]
    if error.reason == Reason.ISSUANCE_JOB_STATE_INVALID:
        state = status_words(str((error.details or {}).get("status", "")))
        return [{"field": "", "text": _("This card is now: %(state)s. Look at it again "
                                        "before you try again.", state=state)}]
    problem = words.refusal(error)
    return [{"field": problem.field or "", "text": f"{problem.title}. {problem.next_step}"}]


@blueprint.route("/issuance/new", methods=["GET", "POST"])
def issuance_new() -> Any:
    """GET: the form. POST step=check: who and where, to confirm. POST step=do: start."""
    if request.method == "GET":
        answer = _new_form(sent=_prefilled())
        commit()  # the prefilled number's read, if any
        return answer
    sent, errors, person = _asked()
    if errors or person is None:
        session().rollback()
        return _new_form(400, sent, errors)
    if request.form.get("step") != "do":
        return reads.shown("console/issuance_confirm.html", PURPOSE, [(person.id, CHECKED)],
                           sent=sent, person=person, desk_name=dict(active_desks())[sent["desk"]])
    return _start(sent, person)


def _start(sent: dict[str, str], person: Citizen) -> Any:
    repeated = once.claim()
    if repeated is not None:
        return repeated
    try:
        job = desk.start(session(), citizen_number=person.national_number,
                         desk_id=sent["desk"], principal=admin())
    except ApiError as error:
        session().rollback()
        open_job = (error.details or {}).get("job_id")
        return page("console/issuance_new.html", max(error.status, 400),
                    desks=active_desks(), sent=sent, errors=_refused(error),
                    open_job=open_job if error.reason == Reason.ISSUANCE_JOB_OPEN else None)
    return once.finish(redirect(url_for("console.issuance_job", job_id=job.id,
                                        done="started"), 303))


# --- one job ------------------------------------------------------------------------------


def _job(job_id: int) -> IssuanceJob:
    return desk.get_job(session(), job_id)


def _job_page(template: str, job: IssuanceJob, status: int = 200, **context: Any
              ) -> tuple[str, int]:
    """A page of one job: it names the person, so it records that read."""
    person = session().get(Citizen, job.citizen_id)
    terminal = session().get(Terminal, job.desk_id) if job.desk_id else None
    return reads.shown(template, PURPOSE, [(job.citizen_id, NAMED)], status, job=job,
                       person=person, desk_name=terminal.name if terminal else None,
                       replaces=_has_another_card(job), **context)


def _has_another_card(job: IssuanceJob) -> bool:
    """Whether the person has a card besides this job's: only then does the page say
    what becomes of the current one."""
    others = select(Card.id).where(Card.citizen_id == job.citizen_id)
    if job.card_id is not None:
        others = others.where(Card.id != job.card_id)
    return session().execute(others.limit(1)).first() is not None


@blueprint.get("/issuance/<int:job_id>")
def issuance_job(job_id: int) -> tuple[str, int]:
    done = request.args.get("done") or ""
    found = _job(job_id)
    if done == "started" and found.status != "requested":
        done = ""  # the page reloaded by itself as the desk moved on: the steps say it
    return _job_page("console/issuance_job.html", found,
                     notice=str(NOTICES[done]) if done in NOTICES else None)


@blueprint.get("/issuance/<int:job_id>/progress")
def issuance_progress(job_id: int) -> Response | tuple[str, int]:
    """The steps the job's page polls; a reload of the page when the state changed."""
    found = _job(job_id)
    session().rollback()
    if request.args.get("shown") != found.status or \
            request.args.get("attempt") != str(found.attempts):
        answer = Response("", 200)
        answer.headers["HX-Refresh"] = "true"
        return answer
    return page("console/issuance_steps.html", job=found)


def _job_step(job_id: int, template: str, act: Any, done: str) -> Any:
    """GET says what will happen; POST does it once, back to the job's page. A refusal
    (the desk moved the job on meanwhile) is the same page with the error summary."""
    if request.method == "GET":
        return _job_page(template, _job(job_id))
    found = _job(job_id)
    repeated = once.claim()
    if repeated is not None:
        return repeated
    try:
        act(found)
    except ApiError as error:
        session().rollback()
        return _job_page(template, _job(job_id), max(error.status, 400),
                         errors=_refused(error))
    return once.finish(redirect(url_for("console.issuance_job", job_id=job_id, done=done),
                                303))


@blueprint.route("/issuance/<int:job_id>/cancel", methods=["GET", "POST"])
def issuance_cancel(job_id: int) -> Any:
    return _job_step(job_id, "console/issuance_cancel.html",
                     lambda job: desk.cancel(session(), job.id, principal=admin()),
                     "cancelled")


def _retry(job: IssuanceJob) -> None:
    """What the back end offers a half-finished job: take it up again at its desk."""
    person = session().get(Citizen, job.citizen_id)
    if job.status not in HELD_STATUSES or person is None:
        raise ApiError(Reason.ISSUANCE_JOB_STATE_INVALID, "only a job a desk holds can be "
                       "taken up again", 409, {"job_id": job.id, "status": job.status})
    desk.start(session(), citizen_number=person.national_number, desk_id=job.desk_id,
               old_reason=job.old_reason, principal=admin(), resume=True)


@blueprint.route("/issuance/<int:job_id>/retry", methods=["GET", "POST"])
def issuance_retry(job_id: int) -> Any:
    return _job_step(job_id, "console/issuance_retry.html", _retry, "retried")
