"""`satukartu job ...` and `satukartu card revoke-many`: bulk work from a console.

Like `satukartu approval`, these act as a named admin (`--as USERNAME`), so a
revocation of more than APPROVAL_REVOKE_THRESHOLD cards becomes a request that another
admin must approve, and carrying it out (`--approval ID`) refuses anything but the
approved cards. `--here` runs a job in this process instead of sending it to a worker.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
from flask import Flask

from backend.approvals.cli import AS_OPTION, acting_admin, console, echo_request, follow_job
from backend.cli import ROW_ID

REVOKE_CHOICES = click.Choice(["unspecified", "keyCompromise", "affiliationChanged",
                               "superseded", "cessationOfOperation", "privilegeWithdrawn"])
JOB_STATUSES = ["queued", "running", "cancelling", "cancelled", "finished", "failed"]


def _app() -> Flask:
    from backend.cli import make_app

    return make_app()


def read_serials(path: Path) -> list[str]:
    """Serials from FILE: one a line (or the first column of a CSV); blank lines, lines
    starting with # and a `serial` header are skipped."""
    serials = []
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        first = line.split(",", 1)[0].strip().strip('"')
        if not first or first.startswith("#") or first.lower() == "serial":
            continue
        serials.append(first)
    return serials


def _echo_job(job: object, as_json: bool) -> None:
    from backend.bulk.schemas import JobOut

    shown = JobOut.of(job)  # type: ignore[arg-type]
    if as_json:
        click.echo(json.dumps(shown.model_dump(mode="json")))
        return
    click.echo(f"job {shown.id} {shown.kind} {shown.status}: {shown.processed}/{shown.total} "
               f"{shown.unit}, {shown.done} done, {shown.failed} failed"
               + (f" ({shown.message})" if shown.message else ""))


@click.command("revoke-many")
@click.option("--file", "file", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Card serials, one a line.")
@click.option("--reason", type=REVOKE_CHOICES, required=True,
              help="RFC 5280: keyCompromise (lost, stolen), cessationOfOperation (death), ...")
@AS_OPTION
@click.option("--note", default="", help="Why, for the audit log and the approver.")
@click.option("--approval", "approval_id", type=ROW_ID, default=None,
              help="Carry out this approved request (the file must be what was approved).")
@click.option("--here", is_flag=True, help="Run the job in this process, not on a worker.")
def revoke_many(file: Path, reason: str, username: str, note: str, approval_id: int | None,
                here: bool) -> None:
    """Revoke the cards listed in FILE: at once up to the approval threshold, else as a
    request for a second admin, or (with --approval) as the approved job."""
    from backend.cards.bulk import revoke_many as start

    app = _app()
    with console(app) as tx:
        principal = acting_admin(tx, username)
        started = start(tx, read_serials(file), reason, principal, note=note,
                        approval_id=approval_id, send=not here)
        if started.approval is not None:
            echo_request(tx, started.approval, False, principal)
            click.echo("nothing was revoked yet: another admin must approve this request")
        job_id = started.job.id if started.job is not None else None
        if started.outcome == "done" and started.job is not None:
            _echo_job(started.job, False)
    if started.outcome == "queued" and job_id is not None:
        follow_job(app, job_id, here)


@click.group("job")
def job() -> None:
    """Bulk jobs: progress, cancel, resume, failures."""


@job.command("list")
@click.option("--status", type=click.Choice(JOB_STATUSES), default=None)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_command(status: str | None, as_json: bool) -> None:
    """Jobs, those at work first."""
    from backend.bulk import jobs

    with console(_app()) as tx:
        for found in jobs.list_jobs(tx, status=status, limit=200):
            _echo_job(found, as_json)


@job.command("show")
@click.argument("job_id", type=ROW_ID)
@click.option("--json", "as_json", is_flag=True)
@click.option("--wait", is_flag=True, help="Print the progress every 2 s until it ends.")
def show_command(job_id: int, as_json: bool, wait: bool) -> None:
    """A job's progress (processed/total, done, failed)."""
    from backend.bulk import jobs
    from backend.bulk.models import ACTIVE

    app = _app()
    while True:
        with console(app) as tx:
            found = jobs.get_job(tx, job_id)
            _echo_job(found, as_json)
            status = found.status
        if not wait or status not in ACTIVE:
            break
        time.sleep(2)
    if wait and status != "finished":
        sys.exit(1)


@job.command("cancel")
@click.argument("job_id", type=ROW_ID)
@AS_OPTION
def cancel_command(job_id: int, username: str) -> None:
    """Stop a job after the batch it is doing; what was done stays done."""
    from backend.bulk import jobs

    with console(_app()) as tx:
        _echo_job(jobs.cancel_job(tx, job_id, acting_admin(tx, username)), False)


@job.command("resume")
@click.argument("job_id", type=ROW_ID)
@AS_OPTION
@click.option("--here", is_flag=True, help="Run it in this process, not on a worker.")
def resume_command(job_id: int, username: str, here: bool) -> None:
    """Go on with a cancelled or failed job after its last committed batch."""
    from backend.bulk import jobs

    app = _app()
    with console(app) as tx:
        _echo_job(jobs.resume_job(tx, job_id, acting_admin(tx, username), send=not here),
                  False)
    follow_job(app, job_id, here)


@job.command("failures")
@click.argument("job_id", type=ROW_ID)
@click.option("--out", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              default=None, help="Write the CSV here instead of printing it.")
def failures_command(job_id: int, out: Path | None) -> None:
    """The rows a job could not do, as CSV (row, key, reason, message)."""
    from backend.bulk import jobs

    with console(_app()) as tx:
        text = jobs.failures_csv(tx, job_id)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}")
