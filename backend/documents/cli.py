"""`satukartu reports`: the monthly programme report, as a PDF file or JSON figures."""

from __future__ import annotations

import json
from pathlib import Path

import click

from backend.documents.reports import LEVELS


@click.group("reports")
def reports() -> None:
    """Programme reports for the city's monitoring and evaluation."""


def _month(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    from backend.documents.reports import MONTH

    if not MONTH.match(value):
        raise click.BadParameter("expected YYYY-MM, e.g. 2026-03")
    return value


@reports.command("monthly")
@click.option("--month", required=True, callback=_month, help="The month, YYYY-MM.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the PDF.")
@click.option("--programme", "programmes", multiple=True,
              help="Only this programme (repeatable). Default: all.")
@click.option("--level", type=click.Choice(sorted(LEVELS)), default="district",
              show_default=True, help="Region level of the breakdown.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def monthly(month: str, out: Path | None, programmes: tuple[str, ...], level: str,
            as_json: bool) -> None:
    """The month's beneficiaries, amounts granted and spent and redemption rate, by
    programme and region, from the ledger; with charts in the PDF."""
    from backend.cli import make_app
    from backend.db import database
    from backend.documents import monthly_report

    if out is None and not as_json:
        raise click.UsageError("give --out FILE, --json, or both")
    app = make_app()
    with app.app_context(), database().transaction() as sess:
        report, pdf = monthly_report.build(sess, month, level=level, programmes=programmes,
                                           with_pdf=out is not None)
    if out is not None and pdf is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(pdf)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        total = report.overall
        click.echo(f"{out}: {month}, {len(report.by_region)} programmes, "
                   f"{total.beneficiaries} beneficiaries, granted {total.granted}, "
                   f"spent {total.spent}")
