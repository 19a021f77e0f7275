"""`satukartu registry ...`: import a city's registry from CSV, make a synthetic one."""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import click

from backend.cli import cli_user
from backend.registry import csvformat

if TYPE_CHECKING:
    from flask import Flask

    from backend.auth.principal import Principal
    from backend.registry.history import Actor

_FORMAT = "\n\n".join("\b\n" + part for part in
                      (csvformat.__doc__ or "").split("\n\n")[1:])

IMPORT_HELP = f"""Import a city's registry from the CSV FILE, all or nothing.

Every row is checked first; each bad row is printed with its line number and the
reason, the exit status is 1 and nothing is written. Otherwise the whole file is
imported in one transaction. A progress bar shows on a terminal.

{_FORMAT}
"""


def _actor() -> Actor:
    from backend.registry.history import Actor

    return Actor("system", f"cli:{cli_user()}")


@click.group("registry")
def registry() -> None:
    """The citizen registry: bulk import and a synthetic city."""


@registry.command("import", help=IMPORT_HELP)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--progress/--no-progress", default=None,
              help="Show a progress bar (default: when stderr is a terminal).")
def import_command(file: Path, progress: bool | None) -> None:
    from backend.cli import make_app

    app = make_app()
    with app.app_context():
        _import(app, file, sys.stderr.isatty() if progress is None else progress)


def _import(app: Flask, file: Path, show_progress: bool) -> None:
    from backend.registry.importer import ImportFailed, import_csv

    engine = app.extensions["satukartu.db"].engine
    formats = app.config["NATIONAL_ID_FORMATS"]
    size = file.stat().st_size
    try:
        if show_progress:
            with click.progressbar(length=size, label=f"importing {file.name}",
                                   file=sys.stderr) as bar:
                report = import_csv(engine, file, formats=formats, actor=_actor(),
                                    progress=bar.update)
        else:
            report = import_csv(engine, file, formats=formats, actor=_actor())
    except ImportFailed as failed:
        for error in failed.report.errors:
            click.echo(str(error), err=True)
        hidden = failed.report.error_count - len(failed.report.errors)
        if hidden:
            click.echo(f"... and {hidden} more", err=True)
        click.echo(f"{failed.report.error_count} problem(s) in {file}; nothing was imported",
                   err=True)
        raise SystemExit(1) from None
    click.echo(f"imported {report.citizens} citizens, {report.households} households, "
               f"{report.enrolments} school enrolments, {report.health} health assignments "
               f"in {report.seconds:.1f} s ({report.rows / max(report.seconds, 1e-9):,.0f} "
               "rows/s)")


@registry.command("synth")
@click.option("--citizens", type=click.IntRange(min=1), required=True,
              help="How many people.")
@click.option("--seed", type=int, default=1, show_default=True,
              help="The same seed gives the same city.")
@click.option("--out", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Write the CSV here instead of importing it into the database.")
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]),
              help="The day the city is drawn at (ages, school year). Default: today.")
@click.option("--progress/--no-progress", default=None,
              help="Show a progress bar on import (default: when stderr is a terminal).")
def synth_command(citizens: int, seed: int, out: Path | None, as_of: dt.datetime | None,
                  progress: bool | None) -> None:
    """A synthetic city of CITIZENS people in households, as CSV or into the database.

    Realistic Indonesian names, valid NIKs and family card numbers, districts and
    villages, ages, welfare deciles, school enrolment for school-age children and
    health insurance assignments. Deterministic for a seed and a day.
    """
    from backend.registry import synth

    today = as_of.date() if as_of else None
    if out is not None:
        count = synth.write_file(out, citizens, seed, today)
        click.echo(f"wrote {count} citizens to {out}")
        return
    from backend.cli import make_app

    app = make_app()
    with app.app_context(), tempfile.TemporaryDirectory(dir=app.instance_path) as tmp:
        path = Path(tmp) / f"synthetic-{seed}-{citizens}.csv"
        synth.write_file(path, citizens, seed, today)
        _import(app, path, sys.stderr.isatty() if progress is None else progress)


# --- citizen --------------------------------------------------------------------------


@click.group("citizen")
def citizen() -> None:
    """People in the registry: find them by national number or name."""


@citizen.command("find")
@click.argument("query")
@click.option("--purpose", required=True,
              help="Why you look: written to the audit log with each person found, where "
                   "the person can read it.")
@click.option("--page", type=click.IntRange(1, 1000), default=1, show_default=True)
@click.option("--per-page", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True,
              help="Print the page as the API's GET /api/v1/citizens does.")
def citizen_find(query: str, purpose: str, page: int, per_page: int, as_json: bool) -> None:
    """Find people by national number or by any part of the name.

    A QUERY with a digit in it is a national number, matched exactly (spaces, dashes
    and dots between groups are dropped); anything else is a part of a name, three
    characters at least, in any case (on PostgreSQL with or without accents). Prints
    id, national number, name and birth year, one person a line; exits 1 when no one
    is found. Each person printed is an audited read with PURPOSE, as in the API.
    """
    from pydantic import ValidationError

    from backend.audit import record_read
    from backend.cli import make_app, refusals
    from backend.db import database
    from backend.registry import service
    from backend.registry.schemas import CitizenBrief, CitizenPage, SearchQuery

    is_number = any(char.isdigit() for char in query)
    try:
        asked = SearchQuery(purpose=purpose, page=page, per_page=per_page,
                            **({"number": query} if is_number else {"name": query}))
    except ValidationError as exc:
        problem = exc.errors()[0]
        field = "PURPOSE" if problem["loc"][0] == "purpose" else "QUERY"
        raise click.BadParameter(problem["msg"], param_hint=field) from None
    app = make_app()
    with app.app_context(), refusals(), database().transaction() as tx:
        people, more = service.search(tx, number=asked.number, name=asked.name,
                                      page=asked.page, per_page=asked.per_page)
        console = _console_principal()
        for person in people:
            record_read(tx, person.id, asked.purpose, service.BRIEF_FIELDS,
                        principal=console)
        items = [CitizenBrief(id=p.id, national_number=p.national_number,
                              full_name=p.full_name, birth_year=p.birth_date.year,
                              deceased=p.died_on is not None) for p in people]
    if as_json:
        click.echo(CitizenPage(items=items, page=asked.page, per_page=asked.per_page,
                               has_more=more).model_dump_json())
    else:
        for item in items:
            click.echo(f"{item.id}\t{item.national_number}\t{item.full_name}\t"
                       f"{item.birth_year}" + ("\tdeceased" if item.deceased else ""))
        if more:
            click.echo(f"more on page {asked.page + 1}", err=True)
    if not items:
        click.echo("no one found", err=True)
        raise SystemExit(1)


def _console_principal() -> Principal:
    """Who reads at the console, as the audit log names them (as `card` commands do)."""
    from backend.auth.principal import Principal

    return Principal(kind="staff", subject=f"console:{cli_user()}", role="admin")
