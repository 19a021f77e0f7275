"""Jobs: bulk work done in batches by a worker (stopping many cards, a registry import).

A job's page shows its progress, "N of M done, K failed", which the page asks for again
every two seconds while the job is at work (htmx polling of `job_progress`; no inline
script). When the job's state is no longer the one the page was drawn with, the answer
asks the browser to reload the page (`HX-Refresh`), so its buttons always match what
`JobOut` says may be done; a job no longer at work is not polled at all, so a page left
open does not keep asking. Cancel and Resume call `backend.bulk.jobs`, the API's
functions, each after a confirmation page and once (`once.py`). The rows a job could not
do download as CSV (`failures_csv`, which records the download in the audit log).
"""

from __future__ import annotations

from typing import Any

from flask import Response, abort, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from admin.console import once, words
from admin.console.blueprint import admin, blueprint, page
from backend.api.routing import MAX_INT, commit
from backend.bulk import jobs as bulk_jobs
from backend.bulk.models import ACTIVE
from backend.bulk.schemas import JobOut
from backend.db import session
from backend.errors import ApiError

POLL_SECONDS = 2
STATUS = {
    "queued": _l("Waiting for its turn"),
    "running": _l("At work"),
    "cancelling": _l("Stopping after the part it is doing now"),
    "cancelled": _l("Stopped by an administrator. What was done stays done."),
    "finished": _l("Finished"),
    "failed": _l("Stopped by a problem. What was done stays done."),
}
STATUS_TAG = {"queued": "warn", "running": "warn", "cancelling": "warn",
              "cancelled": "bad", "failed": "bad", "finished": "good"}
KIND = {"cards.revoke": _l("Stopping many cards"),
        "registry.import": _l("Importing a registry file")}
NOTICES = {"started": _l("The cards were handled. See below what was done."),
           "cancelled": _l("The job is being stopped. What was done stays done."),
           "resumed": _l("The job goes on from where it stopped. No row is done twice.")}


def status_words(status: str) -> str:
    return str(STATUS.get(status, status))


def kind_words(kind: str) -> str:
    return str(KIND.get(kind, kind))


@blueprint.context_processor
def _job_words() -> dict[str, Any]:
    return {"job_status": status_words, "job_kind": kind_words, "JOB_TAG": STATUS_TAG,
            "JOB_ACTIVE": ACTIVE, "POLL_SECONDS": POLL_SECONDS}


@blueprint.get("/jobs")
def jobs() -> tuple[str, int]:
    """Jobs still at work first, then the newest."""
    found = [JobOut.of(job) for job in bulk_jobs.list_jobs(session(), limit=100)]
    session().rollback()
    return page("console/jobs.html", jobs=found)


def _get(job_id: int) -> Any:
    """The job, or the not-found page (for an id no database column could hold too)."""
    if job_id > MAX_INT:
        abort(404)
    return bulk_jobs.get_job(session(), job_id)


def _job(job_id: int) -> JobOut:
    found = JobOut.of(_get(job_id))
    session().rollback()
    return found


@blueprint.get("/jobs/<int:job_id>")
def job(job_id: int) -> tuple[str, int]:
    done = request.args.get("done") or ""
    return page("console/job.html", job=_job(job_id),
                notice=str(NOTICES[done]) if done in NOTICES else None)


@blueprint.get("/jobs/<int:job_id>/progress")
def job_progress(job_id: int) -> Response | tuple[str, int]:
    """The progress fragment the job's page polls; a reload when the state changed."""
    found = _job(job_id)
    if request.args.get("shown") != found.status:
        answer = Response("", 200)
        answer.headers["HX-Refresh"] = "true"
        return answer
    return page("console/job_progress.html", job=found)


@blueprint.get("/jobs/<int:job_id>/failures.csv")
def job_failures(job_id: int) -> Response:
    """The rows the job could not do; the download is recorded in the audit log."""
    _get(job_id)
    text = bulk_jobs.failures_csv(session(), job_id, admin())
    commit()
    return Response(text, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="job-{job_id}-failures.csv"',
        "Cache-Control": "no-store"})


def _job_step(job_id: int, template: str, act: Any, done: str) -> Any:
    """GET says what will happen; POST does it once, back to the job's page. A refusal
    (the job moved on meanwhile) is the confirmation page with the error summary."""
    if request.method == "GET":
        return page(template, job=_job(job_id))
    _get(job_id)  # an unknown job: the 404 page
    repeated = once.claim()
    if repeated is not None:
        return repeated
    try:
        act(job_id)
    except ApiError as error:
        session().rollback()
        return page(template, error.status, job=_job(job_id), errors=_refused(error))
    return once.finish(redirect(url_for("console.job", job_id=job_id, done=done), 303))


def _refused(error: ApiError) -> list[dict[str, str]]:
    status = (error.details or {}).get("status")
    if status:
        return [{"field": "", "text": _("This job is now: %(state)s. Look at the job again "
                                        "before you try again.",
                                        state=status_words(str(status)))}]
    problem = words.refusal(error)
    return [{"field": "", "text": f"{problem.title}. {problem.next_step}"}]


@blueprint.route("/jobs/<int:job_id>/cancel", methods=["GET", "POST"])
def job_cancel(job_id: int) -> Any:
    return _job_step(job_id, "console/job_cancel.html",
                     lambda found: bulk_jobs.cancel_job(session(), found, admin()),
                     "cancelled")


@blueprint.route("/jobs/<int:job_id>/resume", methods=["GET", "POST"])
def job_resume(job_id: int) -> Any:
    return _job_step(job_id, "console/job_resume.html",
                     lambda found: bulk_jobs.resume_job(session(), found, admin()),
                     "resumed")
