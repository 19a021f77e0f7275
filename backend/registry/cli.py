"""`satukartu registry ...`: import a city's registry from CSV or from another registry
(SPDCI), make a synthetic one."""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from backend.cli import cli_user
from backend.registry import csvformat

if TYPE_CHECKING:
    from flask import Flask

    from backend.auth.principal import Principal
    from backend.registry import synth_city
    from backend.registry.history import Actor
    from backend.registry.importer import ImportFailed

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
    try:
        with bars(show_progress)(f"importing {file.name}", file.stat().st_size,
                                 "bytes") as bar:
            report = import_csv(engine, file, formats=formats, actor=_actor(), progress=bar)
    except ImportFailed as failed:
        _refused_rows(failed, str(file))
    click.echo(f"imported {report.citizens} citizens, {report.households} households, "
               f"{report.enrolments} school enrolments, {report.health} health assignments "
               f"in {report.seconds:.1f} s ({report.rows / max(report.seconds, 1e-9):,.0f} "
               "rows/s)")
    if report.duplicates:
        click.echo(f"{report.duplicates} pair(s) that may be one person are in the clerks' "
                   "review queue: `satukartu registry duplicates list`, the console's "
                   "Possible duplicates, or GET /api/v1/duplicates")


def _refused_rows(failed: ImportFailed, source: str) -> NoReturn:
    for error in failed.report.errors:
        click.echo(str(error), err=True)
    hidden = failed.report.error_count - len(failed.report.errors)
    if hidden:
        click.echo(f"... and {hidden} more", err=True)
    click.echo(f"{failed.report.error_count} problem(s) in {source}; nothing was imported",
               err=True)
    raise SystemExit(1)


def bars(show: bool) -> synth_city.Bars:
    """Progress bars on stderr with the count done and the rate, or none at all."""
    from backend.registry import synth_city

    return _bar if show else synth_city.no_bars


@contextmanager
def _bar(label: str, total: int, unit: str) -> Iterator[Callable[[int], None]]:
    started, done = time.perf_counter(), [0]

    def rate(_item: object) -> str:
        elapsed = max(time.perf_counter() - started, 1e-9)
        return f"{done[0] / elapsed:,.0f} {unit}/s"

    with click.progressbar(length=max(total, 1), label=label, file=sys.stderr,
                           show_pos=True, item_show_func=rate) as bar:
        def update(n: int) -> None:
            done[0] += n
            bar.update(n)

        yield update


@registry.command("synth")
@click.option("--citizens", type=click.IntRange(min=1), required=True,
              help="How many people.")
@click.option("--seed", type=int, default=1, show_default=True,
              help="The same seed gives the same city.")
@click.option("--out", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Write the CSV here instead of importing it into the database.")
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]),
              help="The day the city is drawn at (ages, school year, the month whose "
                   "balances are granted). Default: today.")
@click.option("--cards/--no-cards", default=None,
              help="A card for every living citizen (default: when the issuing CA exists).")
@click.option("--balances/--no-balances", default=True, show_default=True,
              help="Grant the month's allocations of every enabled programme.")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Processes making card certificates (default: one per core).")
@click.option("--progress/--no-progress", default=None,
              help="Show progress bars (default: when stderr is a terminal).")
def synth_command(citizens: int, seed: int, out: Path | None, as_of: dt.datetime | None,
                  cards: bool | None, balances: bool, jobs: int | None,
                  progress: bool | None) -> None:
    """A synthetic city of CITIZENS people in households, as CSV or into the database.

    Realistic Indonesian names, valid NIKs and family card numbers, districts and
    villages, ages, welfare deciles, school enrolment for school-age children and
    health insurance assignments. Deterministic for a seed and a day.

    Into the database (an empty registry) it also records a card for every living
    citizen, with real certificates from the issuing CA (test cards: their keys are
    derived from the CA's secret, see backend/cards/synthetic.py), and grants the
    month's balances through the programmes' own allocations. Each phase is timed.
    """
    from backend.registry import synth

    today = as_of.date() if as_of else None
    if out is not None:
        if cards or jobs is not None:
            raise click.UsageError("--cards and --jobs are for a city in the database, "
                                   "not with --out")
        count = synth.write_file(out, citizens, seed, today)
        click.echo(f"wrote {count} citizens to {out}")
        return
    from backend.cli import make_app
    from backend.registry import synth_city
    from backend.registry.importer import ImportFailed

    plan = synth_city.Plan(citizens, seed, today, cards, balances, jobs)
    app = make_app()
    started = time.perf_counter()
    with app.app_context():
        try:
            made = synth_city.run(app, plan, _actor(), bars(
                sys.stderr.isatty() if progress is None else progress))
        except synth_city.SynthRefused as exc:
            raise click.ClickException(str(exc)) from None
        except ImportFailed as failed:
            _refused_rows(failed, "the synthetic city")
    _report(made, time.perf_counter() - started)


def _report(made: synth_city.Made, seconds: float) -> None:
    for note in made.notes:
        click.echo(note, err=True)
    registry = made.registry
    if registry is not None:
        click.echo(f"imported {registry.citizens} citizens, {registry.households} households, "
                   f"{registry.enrolments} school enrolments, {registry.health} health "
                   "assignments")
    if "cards" in made.phases:
        per_card = made.phases["cards"] / max(made.cards, 1) * 1e6
        click.echo(f"cards: {made.cards} issued in {made.phases['cards']:.1f} s "
                   f"({per_card:,.0f} us a card, {made.card_jobs} process(es) certifying)")
    for what, grants, amount in made.balances:
        click.echo(f"balances: {what}: {grants} grants, {amount} in total")
    click.echo("phases: " + ", ".join(f"{name} {took:.1f} s"
                                      for name, took in made.phases.items())
               + f"; total {seconds:.1f} s")


# --- citizen --------------------------------------------------------------------------


PULL_HELP = """Import the family cards of an area from another registry, over SPDCI.

The peer is first registered with `satukartu dci peer add` (its sender id, its JWKS:
every answer it sends is checked against them, and its base URI as the callback URI),
and our client credentials at its token endpoint are listed under its sender id in
SATUKARTU_DCI_PEER_CREDENTIALS_FILE (the file our callbacks to it use; the secret is
never shown). Every family card of REGION (a region code prefix, 2 to 10 digits) is
read, page by page, from the peer's synchronous search, and imported through the
registry's own service: a known national number is updated, never registered twice;
new people are screened for duplicates; every change is audited. Then we subscribe to
the area's changes: the peer notifies them at our /dci/registry/notify, taken only
from the peers in SATUKARTU_DCI_PULL_PEERS.

All or nothing: if the peer cannot be reached, refuses our token or a message, or
answers with a signature that does not verify, or a record cannot be taken, the exit
status is 1 and nothing is written. Pulling again writes only what changed. The
import is committed before we subscribe; if the subscription then fails, the import
is kept and the exit status is 1 (pull again to subscribe). A record outside REGION,
or one that would change our people or cards outside it, is refused.
"""


@registry.command("pull", help=PULL_HELP)
@click.argument("region")
@click.option("--from", "sender_id", required=True,
              help="The peer's sender id, as registered with `satukartu dci peer add`.")
@click.option("--url", help="The peer's SPDCI base URI (default: its registered "
              "callback URI), e.g. https://dtks.example.go.id/dci.")
@click.option("--page-size", type=click.IntRange(1, 100), default=100, show_default=True)
@click.option("--subscribe/--no-subscribe", default=True, show_default=True,
              help="Subscribe to the area's changes after the import.")
def pull_command(region: str, sender_id: str, url: str | None, page_size: int,
                 subscribe: bool) -> None:
    from backend.cli import make_app

    if not region.isdigit() or not 2 <= len(region) <= 10:
        raise click.BadParameter("a region code prefix of 2 to 10 digits", param_hint="REGION")
    app = make_app()
    try:
        with app.app_context():
            _pull(app, region, sender_id, url, page_size, subscribe)
    finally:
        app.extensions["satukartu.db"].engine.dispose()


def _pull(app: Flask, region: str, sender_id: str, url: str | None, page_size: int,
          subscribe: bool) -> None:
    from backend.db import database
    from backend.dci import client, pull
    from backend.dci.mapping import MappingError
    from backend.dci.models import DciPeer
    from backend.errors import ApiError

    try:
        credentials = client.credentials(app.config, sender_id)
        with database().transaction() as tx:
            peer = tx.get(DciPeer, sender_id)
            if peer is None:
                raise click.ClickException(f"no peer {sender_id!r} is registered: "
                                           "satukartu dci peer add first")
            peer_client = client.PeerClient(app.config, peer, url or peer.callback_uri,
                                            credentials)
            try:
                counts = pull.pull(tx, peer_client, region, _actor(), page_size=page_size)
            except BaseException:
                peer_client.close()
                raise
    except client.PeerError as exc:
        raise click.ClickException(f"{exc}; nothing was imported") from exc
    except (MappingError, pull.PullConflict) as exc:
        raise click.ClickException(f"a record from {sender_id} cannot be taken: {exc}; "
                                   "nothing was imported") from exc
    except ApiError as exc:
        raise click.ClickException(f"a record from {sender_id} was refused: {exc.message}; "
                                   "nothing was imported") from exc
    # The import is committed: a notification the subscription brings finds it.
    click.echo(f"read {counts.records} family card(s) from {sender_id}: "
               f"{counts.citizens_created} citizen(s) registered, {counts.citizens_updated} "
               f"updated, {counts.citizens_unchanged} unchanged, {counts.deaths} death(s); "
               f"{counts.households_created} household(s) registered, "
               f"{counts.households_updated} updated")
    if counts.duplicates_flagged:
        click.echo(f"{counts.duplicates_flagged} pair(s) that may be one person are in the "
                   "clerks' review queue (GET /api/v1/duplicates)")
    try:
        if not subscribe:
            return
        try:
            with database().transaction() as tx:
                correlation = pull.subscribe(tx, peer_client, sender_id, region).correlation_id
        except client.PeerError as exc:
            raise click.ClickException(f"the import is kept, but the subscription failed: "
                                       f"{exc}; pull again to subscribe") from exc
    finally:
        peer_client.close()
    click.echo(f"asked to be notified of changes in {region} (correlation id "
               f"{correlation}); the peer answers at /dci/registry/on-subscribe")
    if sender_id not in app.config["DCI_PULL_PEERS"]:
        click.echo(f"warning: {sender_id} is not in SATUKARTU_DCI_PULL_PEERS: its "
                   "notifications will be refused until it is", err=True)


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


def _add_duplicates() -> None:
    from backend.registry.dedup.cli import duplicates

    registry.add_command(duplicates)


_add_duplicates()
