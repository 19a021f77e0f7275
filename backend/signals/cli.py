"""`satukartu ledger signals`: a day's irregularity signals, as the daily job makes them."""

from __future__ import annotations

from datetime import date

import click

from backend.cli import make_app


@click.command("signals")
@click.option("--day", default=None, help="YYYY-MM-DD, the city's local day; default "
              "yesterday.")
@click.option("--out", "folder", type=click.Path(exists=True, file_okay=False, writable=True),
              default=None,
              help="Folder for the CSV and PDF; default INSTANCE_DIR/signals.")
def signals_command(day: str | None, folder: str | None) -> None:
    """Judge a day's redemptions and card refusals for irregularities at agents; write
    the signals as CSV and PDF and print one line each."""
    from pathlib import Path

    from backend.signals.judge import report_day

    try:
        asked = date.fromisoformat(day) if day is not None else None
    except ValueError as exc:
        raise click.BadParameter(f"{day!r} is not a date (YYYY-MM-DD): {exc}",
                                 param_hint="--day") from exc
    app = make_app()
    with app.app_context():
        judged, found, csv_path, pdf_path = report_day(asked, Path(folder) if folder else None)
    for signal in found:
        click.echo(f"{signal.kind}\t{signal.subject}\t{signal.summary}")
    click.echo(f"{len(found)} signals for {judged}: {csv_path}, {pdf_path}")
