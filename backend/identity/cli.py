"""`satukartu staff ...` and `satukartu terminal ...`: the identities, from a console.

The first admin of a city is made here (`satukartu staff add NAME --role admin
--password-stdin`); everything else can go through the API too. Changes are
audited with the operating-system user as the actor (`cli:<user>`).
"""

from __future__ import annotations

import json
import secrets
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
from sqlalchemy.orm import Session

from backend.auth.principal import STAFF_ROLES, TERMINAL_KINDS
from backend.cli import cli_operator, refusals
from backend.identity import accounts, ratelimit, totp
from backend.identity.schemas import StaffOut, TerminalOut


@contextmanager
def _transaction() -> Iterator[Session]:
    """One committed unit of work on SATUKARTU_DATABASE_URL; a refusal exits non-zero."""
    from backend.cli import make_app
    from backend.db import database

    app = make_app()
    try:
        with refusals(), app.app_context(), database().transaction() as tx:
            yield tx
    finally:
        app.extensions["satukartu.db"].engine.dispose()


def _emit(data: Any, as_json: bool, text: Callable[[], str]) -> None:
    click.echo(json.dumps(data, default=str, indent=2) if as_json else text())


# --- staff ---------------------------------------------------------------------------

@click.group()
def staff() -> None:
    """Staff accounts: admin, clerk, agent, auditor."""


@staff.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(STAFF_ROLES), required=True)
@click.option("--name", "display_name", default="", help="The person's name.")
@click.option("--email", default=None, help="Links the account to the city's SSO.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--sso-only", is_flag=True, help="No password: sign in through SSO only.")
@click.option("--json", "as_json", is_flag=True)
def staff_add(username: str, role: str, display_name: str, email: str | None,
              password_stdin: bool, sso_only: bool, as_json: bool) -> None:
    """Create a staff account (a password is generated and shown once unless given)."""
    if password_stdin and sso_only:
        raise click.UsageError("--password-stdin and --sso-only exclude each other")
    generated = not password_stdin and not sso_only
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif generated:
        password = secrets.token_urlsafe(15)
    with _transaction() as tx:
        account = accounts.create_staff(tx, username=username, role=role,
                                        display_name=display_name, email=email,
                                        password=password, principal=cli_operator())
        out = StaffOut.of(account).model_dump(mode="json")
    if generated:
        out["password"] = password
    _emit(out, as_json, lambda: f"{out['username']} ({role}) created" + (
        f"; password (shown once): {password}" if generated else ""))


@staff.command("list")
@click.option("--json", "as_json", is_flag=True)
def staff_list(as_json: bool) -> None:
    """All staff accounts."""
    with _transaction() as tx:
        rows = [StaffOut.of(a).model_dump(mode="json") for a in accounts.list_staff(tx)]
    _emit(rows, as_json, lambda: "\n".join(
        f"{r['username']:<24} {r['role']:<8} {'enabled' if r['enabled'] else 'disabled'}"
        for r in rows))


def _staff_change(name: str, done: str, doc: str,
                  change: Callable[[Session, str], Any]) -> None:
    @staff.command(name, help=doc)
    @click.argument("username")
    def command(username: str) -> None:
        with _transaction() as tx:
            account = change(tx, username)
        click.echo(f"{account.username}: {done}")


_staff_change("disable", "disabled", "Disable an account; its tokens stop working at once.",
              lambda tx, u: accounts.set_staff_enabled(tx, u, False, cli_operator()))
_staff_change("enable", "enabled", "Enable an account again.",
              lambda tx, u: accounts.set_staff_enabled(tx, u, True, cli_operator()))
_staff_change("unlock", "unlocked", "Lift sign-in locks and the account-wide hold.",
              lambda tx, u: accounts.unlock_staff(tx, u, cli_operator()))


@staff.group("totp")
def staff_totp() -> None:
    """The second factor: one-time codes from an authenticator app."""


@staff_totp.command("enable")
@click.argument("username")
@click.option("--json", "as_json", is_flag=True)
def staff_totp_enable(username: str, as_json: bool) -> None:
    """Give the account a new TOTP secret (replacing any old one). The secret and its
    otpauth:// URI are printed here once, for the person's authenticator app, and
    written nowhere else; from now on the account's password needs its code."""
    with _transaction() as tx:
        account = accounts.get_staff(tx, username)
        enrolment = totp.enable(tx, account, cli_operator())
        name = account.username
    out = {"username": name, "secret": enrolment.secret, "otpauth_uri": enrolment.uri}
    _emit(out, as_json, lambda: (f"{name}: TOTP on\n"
                                 f"otpauth URI (shown once): {enrolment.uri}\n"
                                 f"secret (shown once):      {enrolment.secret}"))


@staff_totp.command("disable")
@click.argument("username")
def staff_totp_disable(username: str) -> None:
    """Remove the account's TOTP secret: its password alone signs in again."""
    with _transaction() as tx:
        account = accounts.get_staff(tx, username)
        totp.disable(tx, account, cli_operator())
        name = account.username
    click.echo(f"{name}: TOTP off")


@staff.command("prune-throttle")
def staff_prune_throttle() -> None:
    """Forget stale sign-in failure counters (safe to run from cron)."""
    with _transaction() as tx:
        count = ratelimit.prune(tx, ratelimit.STAFF_POLICY)
    click.echo(f"{count} stale counters removed")


# --- terminals -----------------------------------------------------------------------

@click.group()
def terminal() -> None:
    """Registered terminals: kiosk, counter, agent, gate."""


def _credentials(row: Any, secret: str) -> dict[str, Any]:
    out = TerminalOut.of(row).model_dump(mode="json")
    out.update(client_secret=secret, scope=row.kind, token_endpoint="/api/v1/oauth/token")
    return out


@terminal.command("add")
@click.option("--kind", type=click.Choice(TERMINAL_KINDS), required=True)
@click.option("--name", required=True, help="Where it stands, e.g. 'Kelurahan Menteng kiosk 1'.")
@click.option("--category", default=None,
              help="An agent shop's category, e.g. 'e-warong' (purse rules' agent_categories).")
@click.option("--json", "as_json", is_flag=True)
def terminal_add(kind: str, name: str, category: str | None, as_json: bool) -> None:
    """Register a terminal; its client secret is shown once."""
    with _transaction() as tx:
        row, secret = accounts.create_terminal(tx, kind=kind, name=name, principal=cli_operator(),
                                               category=category)
        out = _credentials(row, secret)
    _emit(out, as_json, lambda: (f"terminal {out['terminal_id']} ({kind})\n"
                                 f"client_id:     {out['client_id']}\n"
                                 f"client_secret: {secret}  (shown once)"))


@terminal.command("list")
@click.option("--json", "as_json", is_flag=True)
def terminal_list(as_json: bool) -> None:
    """All registered terminals."""
    with _transaction() as tx:
        rows = [TerminalOut.of(t).model_dump(mode="json") for t in accounts.list_terminals(tx)]
    _emit(rows, as_json, lambda: "\n".join(
        f"{r['terminal_id']:<20} {r['kind']:<8} {'enabled' if r['enabled'] else 'disabled':<9}"
        f" {r['category'] or '-':<12} {r['name']}" for r in rows))


@terminal.command("disable")
@click.argument("terminal_id")
def terminal_disable(terminal_id: str) -> None:
    """Disable a terminal; it is refused on its next request."""
    with _transaction() as tx:
        accounts.set_terminal_enabled(tx, terminal_id, False, cli_operator())
    click.echo(f"{terminal_id}: disabled")


@terminal.command("enable")
@click.argument("terminal_id")
def terminal_enable(terminal_id: str) -> None:
    """Enable a terminal again."""
    with _transaction() as tx:
        accounts.set_terminal_enabled(tx, terminal_id, True, cli_operator())
    click.echo(f"{terminal_id}: enabled")


@terminal.command("rotate-secret")
@click.argument("terminal_id")
@click.option("--json", "as_json", is_flag=True)
def terminal_rotate(terminal_id: str, as_json: bool) -> None:
    """A new client secret (shown once); the old one stops working."""
    with _transaction() as tx:
        row, secret = accounts.rotate_terminal_secret(tx, terminal_id, cli_operator())
        out = _credentials(row, secret)
    _emit(out, as_json, lambda: f"client_secret: {secret}  (shown once)")
