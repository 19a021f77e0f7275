"""`satukartu registry duplicates ...`: the clerks' queue at the console.

The same queue and decision as the API (`GET /api/v1/duplicates`, `POST
/api/v1/duplicates/<id>/decision`) and the console's page: `review.open_candidates`
and `review.decide`, with the person at the terminal (`console:<user>`) as the
clerk. Listing prints two people's records, so it takes a purpose, written with each
person's read in the audit log, as `citizen find` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from backend.cli import ROW_ID, cli_user
from backend.registry.dedup.review import DECISIONS

if TYPE_CHECKING:
    from backend.auth.principal import Principal


@click.group("duplicates")
def duplicates() -> None:
    """Pairs of records that may be one person, waiting for a clerk's decision."""


@duplicates.command("list")
@click.option("--purpose", required=True,
              help="Why you look: written to the audit log with each person shown, where "
                   "the person can read it.")
@click.option("--page", type=click.IntRange(1, 10_000), default=1, show_default=True)
@click.option("--per-page", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True,
              help="Print the page as the API's GET /api/v1/duplicates does.")
def list_command(purpose: str, page: int, per_page: int, as_json: bool) -> None:
    """The open pairs, most alike first: one pair a line, tab-separated: the pair's
    id, how alike (0-1), what matched, then the newer record and the one registered
    first (id, national number, name, birth date, region). Exits 1 when none is open."""
    from pydantic import ValidationError

    from backend.audit import record_read
    from backend.cli import make_app, refusals
    from backend.db import database
    from backend.registry.dedup import review
    from backend.registry.dedup.api import candidate_out
    from backend.registry.dedup.schemas import SHOWN, CandidatePage, QueueQuery

    try:
        asked = QueueQuery(purpose=purpose, page=page, per_page=per_page)
    except ValidationError as exc:
        raise click.BadParameter(exc.errors()[0]["msg"], param_hint="PURPOSE") from None
    app = make_app()
    with app.app_context(), refusals(), database().transaction() as tx:
        found, more = review.open_candidates(tx, asked.page, asked.per_page)
        console = console_principal()
        for person in sorted({p.id for _row, new, old in found for p in (new, old)}):
            record_read(tx, person, asked.purpose, list(SHOWN), principal=console)
        items = [candidate_out(row, new, old) for row, new, old in found]
    if as_json:
        click.echo(CandidatePage(items=items, page=asked.page, per_page=asked.per_page,
                                 has_more=more).model_dump_json())
    else:
        for item in items:
            sides = [f"{p.id}\t{p.national_number}\t{p.full_name}\t{p.birth_date}\t"
                     f"{p.region_code}" for p in (item.new, item.existing) if p is not None]
            click.echo(f"{item.id}\t{item.score:.2f}\t{','.join(item.matched)}\t"
                       + "\t".join(sides))
        if more:
            click.echo(f"more on page {asked.page + 1}", err=True)
    if not items:
        click.echo("no pair is waiting", err=True)
        raise SystemExit(1)


@duplicates.command("decide")
@click.argument("candidate_id", type=ROW_ID)
@click.argument("decision", type=click.Choice(DECISIONS))
@click.option("--note", default=None, help="Why, for whoever reads the pair later.")
def decide_command(candidate_id: int, decision: str, note: str | None) -> None:
    """Decide the open pair CANDIDATE_ID: same_person (the newer record is a second
    registration of the first and is served nothing from now on) or different_people
    (the flag is cleared). Written to the audit log as the API's decision is; a pair
    already decided is refused (duplicate_already_decided)."""
    from flask import g

    from backend.cli import make_app, refusals
    from backend.db import database
    from backend.registry.dedup import review
    from backend.registry.dedup.schemas import DecisionIn

    body = DecisionIn.model_validate({"decision": decision, "note": note})
    app = make_app()
    with app.app_context(), refusals(), database().transaction() as tx:
        g.principal = console = console_principal()
        row = review.decide(tx, candidate_id, body.decision, console.subject, body.note)
        new, existing = row.new_citizen_id, row.existing_citizen_id
    click.echo(f"pair {candidate_id}: {decision} (record {new}, registered first {existing})")


def console_principal() -> Principal:
    """The clerk at the console, as the audit log names them (as `citizen find` does)."""
    from backend.auth.principal import Principal

    return Principal(kind="staff", subject=f"console:{cli_user()}", role="clerk")
