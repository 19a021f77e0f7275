"""`satukartu ledger ...`: allocate, lapse, look at a balance, check the invariants."""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import Any

import click

from backend.cli import make_app


@click.group("ledger")
def ledger() -> None:
    """The entitlement ledger: allocations, balances, checks."""


@ledger.command("allocate")
@click.option("--programme", required=True, help="The module's key, e.g. food.")
@click.option("--period", default=None, help="YYYY-MM, YYYY-Qn or YYYY-Sn; default: the "
              "period due today.")
@click.option("--batch", type=click.IntRange(min=1), default=None,
              help="Beneficiary ids per transaction.")
@click.option("--rescan", is_flag=True, help="Walk the whole id range again (granted "
              "beneficiaries stay as they are).")
@click.option("--split", is_flag=True, help="By district, one part after another here; "
              "grants what the whole run grants.")
def allocate_command(programme: str, period: str | None, batch: int | None,
                     rescan: bool, split: bool) -> None:
    """Grant the programme's periodic credit to everyone eligible; safe to re-run."""
    from backend.db import database
    from backend.ledger.allocation import allocate
    from backend.ledger.split import allocate_split
    from backend.services import Period
    from backend.services.catalogue import modules

    app = make_app()
    with app.app_context():
        module = modules().get(programme)
        if module is None or not module.allocations:
            raise click.UsageError(f"no enabled programme {programme!r} with allocations")
        dues = []  # every purse's period checked before any is granted
        for allocation in module.allocations:
            try:
                due = (Period.parse(period) if period is not None
                       else allocation.due_period(date.today()))
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint="--period") from exc
            if due.cadence != allocation.cadence:  # the API's refusal, period_invalid
                raise click.BadParameter(f"{module.key} allocates {allocation.cadence}, "
                                         f"not {due.key}", param_hint="--period")
            dues.append((allocation, due))
        size = batch or app.config["ALLOCATION_BATCH"]
        for allocation, due in dues:
            if split:
                parts = allocate_split(database(), module, allocation, due, rescan=rescan,
                                       batch=size)
                click.echo(f"{module.key}/{allocation.purse} {due.key}: "
                           f"{sum(p.granted for p in parts)} grants, "
                           f"{sum(p.amount for p in parts)} in {len(parts)} district parts")
                continue
            done = allocate(database(), module, allocation, due, rescan=rescan, batch=size)
            click.echo(f"{done.programme}/{done.purse} {done.period}: {done.granted} grants, "
                       f"{done.amount} in {done.batches} batches")


@ledger.command("expire")
@click.option("--as-of", "as_of", default=None, help="YYYY-MM-DD; default today.")
def expire_command(as_of: str | None) -> None:
    """Lapse credit whose expiry date has passed, as journal entries."""
    from backend.ledger.tasks import expire_all

    try:
        day = date.fromisoformat(as_of) if as_of is not None else date.today()
    except ValueError as exc:
        raise click.BadParameter(f"{as_of!r} is not a date (YYYY-MM-DD): {exc}",
                                 param_hint="--as-of") from exc
    app = make_app()
    with app.app_context():
        for (key, purse), (accounts, amount) in expire_all(day).items():
            click.echo(f"{key}/{purse}: {accounts} accounts, {amount} lapsed")


@ledger.command("balance")
@click.option("--programme", required=True)
@click.option("--purse", default=None, help="Default: the programme's only purse.")
@click.option("--citizen", "citizen_id", type=int, default=None)
@click.option("--household", "household_id", type=int, default=None)
@click.option("--json", "as_json", is_flag=True)
def balance_command(programme: str, purse: str | None, citizen_id: int | None,
                    household_id: int | None, as_json: bool) -> None:
    """A beneficiary's balance and latest movements."""
    from backend.cli import refusals
    from backend.db import database
    from backend.ledger import postings
    from backend.registry.households import require_household
    from backend.registry.service import require_citizen

    if (citizen_id is None) == (household_id is None):
        raise click.UsageError("give exactly one of --citizen and --household")
    owner = (postings.Owner.of("citizen", citizen_id) if citizen_id is not None
             else postings.Owner.of("household", household_id))
    app = make_app()
    with app.app_context(), database().transaction() as sess:
        with refusals():  # the registry's own refusal, as the API words it (not_found)
            if citizen_id is not None:
                require_citizen(sess, citizen_id)
            elif household_id is not None:
                require_household(sess, household_id)
        purse = purse or _only_purse(programme)
        account = postings.find_account(sess, programme, purse, owner)
        answer: dict[str, Any] = {
            "programme": programme, "purse": purse, "owner": owner.__dict__,
            "balance": postings.balance_of(sess, account),
            "recent": postings.recent_lines(sess, account, 10)}
    if as_json:
        click.echo(json.dumps(answer, indent=2, default=str))
        return
    click.echo(f"{programme}/{purse} {owner.type} {owner.ref}: {answer['balance']}")
    for line in answer["recent"]:
        click.echo(f"  #{line['entry_id']} {line['at']} {line['kind']:<10} "
                   f"{line['amount']:>12} -> {line['balance_after']}")


def _only_purse(programme: str) -> str:
    from backend.services.catalogue import modules

    module = modules().get(programme)
    if module is None or len(module.purses) != 1:
        raise click.UsageError("give --purse")
    return next(iter(module.purses))


@ledger.command("check")
@click.option("--json", "as_json", is_flag=True)
def check_command(as_json: bool) -> None:
    """Every entry sums to zero, no balance below zero, balances equal their journal.

    Exit 0 when intact; otherwise 1, naming the offending rows."""
    from backend.db import database
    from backend.ledger import checks

    app = make_app()
    with app.app_context(), database().transaction() as sess:
        found = checks.findings(sess)
        counts = checks.totals(sess)
    broken = {name: rows for name, rows in found.items() if rows}
    if as_json:
        click.echo(json.dumps({"intact": not broken, "totals": counts, "findings": found},
                              default=str))
    else:
        click.echo(f"{counts['entries']} entries, {counts['lines']} lines, "
                   f"{counts['accounts']} accounts, {counts['grants']} grants; "
                   f"lines sum to {counts['total']}")
        for name, rows in broken.items():
            click.echo(f"{name}: {len(rows)} (first: {rows[0]})")
        click.echo("intact" if not broken else "NOT intact")
    sys.exit(1 if broken else 0)
