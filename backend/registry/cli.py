"""`satukartu registry ...`: import a city's registry from CSV, make a synthetic one."""

from __future__ import annotations

import datetime as dt
import getpass
import sys
import tempfile
from pathlib import Path

import click

from backend.registry import csvformat

_FORMAT = "\n\n".join("\b\n" + part for part in
                      (csvformat.__doc__ or "").split("\n\n")[1:])

IMPORT_HELP = f"""Import a city's registry from the CSV FILE, all or nothing.

Every row is checked first; each bad row is printed with its line number and the
reason, the exit status is 1 and nothing is written. Otherwise the whole file is
imported in one transaction. A progress bar shows on a terminal.

{_FORMAT}
"""


def _actor():  # type: ignore[no-untyped-def]
    from backend.registry.history import Actor

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Actor("system", f"cli:{user}")


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


def _import(app, file: Path, show_progress: bool) -> None:  # type: ignore[no-untyped-def]
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
