"""`satukartu db partitions`: make the coming months' partitions and list them all."""

from __future__ import annotations

import click

from backend.cli import make_app
from backend.partitions import MAX_MONTHS_AHEAD, MONTHS_AHEAD


@click.command("partitions")
@click.option("--months-ahead", type=click.IntRange(0, MAX_MONTHS_AHEAD),
              default=MONTHS_AHEAD, show_default=True,
              help="Make partitions up to this many months after the current one.")
def partitions_command(months_ahead: int) -> None:
    """Make the coming months' partitions (PostgreSQL; safe to re-run) and list every
    partition with its planner's row estimate."""
    from backend.db import database
    from backend.partitions.upkeep import ensure, listing, partitioned

    app = make_app()
    with app.app_context(), database().engine.begin() as conn:
        if not partitioned(conn):
            click.echo("no partitioned tables here (SQLite, or PostgreSQL before "
                       "migration 0016): nothing to do")
            return
        for name in ensure(conn, months_ahead):
            click.echo(f"made {name}")
        for part in listing(conn):
            rows = "not analysed" if part.rows is None else f"~{part.rows} rows"
            click.echo(f"{part.table}  {part.name}  {part.bounds}  {rows}")
