"""`satukartu approval ...`: two-person requests from a console.

The console acts as a named admin account (`--as USERNAME`: it must exist, be enabled
and be an admin), so the maker and checker rules hold here exactly as in the API: the
admin who asked cannot approve, whatever the console. Every change is one transaction
with its audit record, which also names the operating-system user.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from flask import Flask
from sqlalchemy.orm import Session

from backend.auth.principal import Principal
from backend.cli import ROW_ID

AS_OPTION = click.option("--as", "username", required=True, metavar="USERNAME",
                         help="The admin account acting (it must exist and be an admin).")


def _app() -> Flask:
    from backend.cli import make_app

    return make_app()


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def acting_admin(db: Session, username: str) -> Principal:
    """The admin account named at the console, as a Principal; refused otherwise."""
    from backend.errors import ApiError
    from backend.identity.accounts import get_staff
    from backend.reasons import Reason

    account = get_staff(db, username)
    if not account.enabled:
        raise ApiError(Reason.ACCOUNT_DISABLED, f"{account.username} is disabled", 403)
    if account.role != "admin":
        raise ApiError(Reason.ROLE_NOT_ALLOWED, f"{account.username} is a {account.role}, "
                       "not an admin", 403)
    return Principal(kind="staff", subject=account.username, role="admin",
                     terminal_id=f"console:{os_user()}")


@contextmanager
def console(app: Flask) -> Iterator[Session]:
    """One committed unit of work; a refusal prints its reason and exits 1."""
    from backend.cli import refusals
    from backend.db import database

    with app.app_context(), refusals(), database().transaction() as tx:
        yield tx


def echo_request(db: Session, row: Any, as_json: bool, principal: Principal | None = None,
                 detail: bool = False) -> None:
    """The request in words (or JSON), with what `principal` may do with it."""
    from backend.approvals import schemas

    shown = schemas.detail(db, row, principal) if detail else \
        schemas.views(db, [row], principal)[0]
    if as_json:
        click.echo(json.dumps(shown.model_dump(mode="json")))
        return
    click.echo(f"#{shown.id} {shown.status:<11} {shown.summary}")
    click.echo(f"    asked by {shown.maker} at {shown.created_at:%Y-%m-%d %H:%M} UTC"
               + (f", handed to {shown.assigned_to}" if shown.assigned_to else ""))
    if shown.needs_second_person:
        click.echo(f"    needs a second person: {shown.waiting_for}")
    if shown.checker:
        click.echo(f"    {shown.status} by {shown.checker}"
                   + (f": {shown.comment}" if shown.comment else ""))
    if shown.job_id is not None:
        click.echo(f"    job {shown.job_id}")
    if principal is not None and not shown.can_decide and shown.cannot_decide is not None \
            and shown.status == "pending":
        click.echo(f"    {principal.subject} cannot decide it: {shown.cannot_decide.message}")


@click.group("approval")
def approval() -> None:
    """Requests that need a second admin: list, show, approve, reject, carry out."""


@approval.command("list")
@click.option("--status", type=click.Choice(["pending", "approved", "rejected", "cancelled",
                                             "expired", "carried_out"]))
@click.option("--kind", default=None)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_command(status: str | None, kind: str | None, as_json: bool) -> None:
    """Requests, pending first."""
    from backend.approvals import service

    with console(_app()) as tx:
        for row in service.list_requests(tx, status=status, kind=kind, limit=200):
            echo_request(tx, row, as_json)


@approval.command("show")
@click.argument("request_id", type=ROW_ID)
@click.option("--as", "username", default=None, metavar="USERNAME",
              help="Also say whether this admin may decide it.")
@click.option("--json", "as_json", is_flag=True)
def show_command(request_id: int, username: str | None, as_json: bool) -> None:
    """One request with its payload (JSON) or in words."""
    from backend.approvals import service

    with console(_app()) as tx:
        principal = acting_admin(tx, username) if username else None
        row = service.get_request(tx, request_id)
        echo_request(tx, row, as_json, principal, detail=as_json)


@approval.command("approve")
@click.argument("request_id", type=ROW_ID)
@AS_OPTION
@click.option("--comment", default="", help="Why, for the record.")
def approve_command(request_id: int, username: str, comment: str) -> None:
    """Approve another admin's request (never your own)."""
    from backend.approvals import service

    with console(_app()) as tx:
        principal = acting_admin(tx, username)
        echo_request(tx, service.approve(tx, request_id, principal, comment), False, principal)


@approval.command("reject")
@click.argument("request_id", type=ROW_ID)
@AS_OPTION
@click.option("--comment", required=True, help="Why it is rejected.")
def reject_command(request_id: int, username: str, comment: str) -> None:
    """Reject another admin's request, saying why."""
    from backend.approvals import service

    with console(_app()) as tx:
        principal = acting_admin(tx, username)
        echo_request(tx, service.reject(tx, request_id, principal, comment), False, principal)


@approval.command("cancel")
@click.argument("request_id", type=ROW_ID)
@AS_OPTION
@click.option("--comment", default="")
def cancel_command(request_id: int, username: str, comment: str) -> None:
    """Withdraw your own request before it is carried out."""
    from backend.approvals import service

    with console(_app()) as tx:
        principal = acting_admin(tx, username)
        echo_request(tx, service.cancel(tx, request_id, principal, comment), False, principal)


@approval.command("assign")
@click.argument("request_id", type=ROW_ID)
@click.option("--to", "to", required=True, metavar="USERNAME", help="An admin, not the maker.")
@AS_OPTION
def assign_command(request_id: int, to: str, username: str) -> None:
    """Hand a pending request to one admin, who alone may then decide it."""
    from backend.approvals import service

    with console(_app()) as tx:
        principal = acting_admin(tx, username)
        echo_request(tx, service.assign(tx, request_id, principal, to), False, principal)


@approval.command("carry-out")
@click.argument("request_id", type=ROW_ID)
@AS_OPTION
@click.option("--here", is_flag=True, help="Run its job in this process instead of "
              "sending it to a worker.")
def carry_out_command(request_id: int, username: str, here: bool) -> None:
    """Carry out an approved request, exactly as approved."""
    from backend.approvals import service

    app = _app()
    with console(app) as tx:
        principal = acting_admin(tx, username)
        _, done = service.carry_out(tx, request_id, principal, send=not here)
    click.echo(done.message)
    if done.job_id is not None:
        follow_job(app, done.job_id, here)


def follow_job(app: Flask, job_id: int, here: bool) -> None:
    """Run the job now (`here`) and print how it ended, or say how to follow it."""
    if not here:
        click.echo(f"job {job_id} queued; follow it with `satukartu job show {job_id} --wait`")
        return
    from backend.bulk.runner import run_job
    from backend.db import database

    with app.app_context():
        status = run_job(database(), job_id, batch=app.config["BULK_BATCH"])
    click.echo(f"job {job_id} {status}")
    if status != "finished":
        sys.exit(1)


@approval.command("request-import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@AS_OPTION
@click.option("--note", default="", help="Why, for the approver.")
def request_import_command(file: Path, username: str, note: str) -> None:
    """Store a registry CSV FILE and ask a second admin to approve importing it."""
    from backend.bulk import registry_import

    with console(_app()) as tx:
        principal = acting_admin(tx, username)
        with file.open("rb") as handle:
            row = registry_import.request_import(tx, handle, file.name, principal, note=note)
        echo_request(tx, row, False, principal)


@approval.command("request-programme")
@click.argument("programme")
@AS_OPTION
@click.option("--enable/--disable", "enabled", default=None, help="Switch it on or off.")
@click.option("--set", "settings", multiple=True, metavar="NAME=VALUE",
              help="A new parameter value (repeatable).")
@click.option("--note", default="", help="Why, for the approver.")
def request_programme_command(programme: str, username: str, enabled: bool | None,
                              settings: tuple[str, ...], note: str) -> None:
    """Ask to switch a PROGRAMME on or off, or change its amounts or rules."""
    from backend.approvals import service

    parameters = {}
    for item in settings:
        name, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r}: write NAME=VALUE", param_hint="--set")
        parameters[name.strip()] = value.strip()
    with console(_app()) as tx:
        principal = acting_admin(tx, username)
        row = service.request_approval(tx, "programme.change", {
            "key": programme, "enabled": enabled, "parameters": parameters},
            principal, note=note)
        echo_request(tx, row, False, principal)
