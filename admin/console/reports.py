"""The monthly programme report: pick a month, see the figures, download the PDF.

The figures and the PDF are the documents domain's (`documents.monthly_report.build`,
what `GET /api/v1/reports/monthly` and `/figures` answer), checked with the API's own
query shape (`MonthlyQuery`). They are sums over the ledger: nobody's data is read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, current_app, request
from flask_babel import gettext as _
from pydantic import ValidationError

from admin.common import i18n
from admin.console.blueprint import blueprint, page
from backend.db import session
from backend.documents import monthly_report, reports
from backend.documents.api import MonthlyQuery


def this_month() -> str:
    return datetime.now(ZoneInfo(current_app.config["CITY_TIMEZONE"])).strftime("%Y-%m")


def _query() -> tuple[MonthlyQuery | None, dict[str, str], list[dict[str, str]]]:
    sent = {"month": request.args.get("month") or this_month(),
            "level": request.args.get("level") or "district",
            "programme": request.args.get("programme") or ""}
    try:
        query = MonthlyQuery.model_validate({**sent, "programme": sent["programme"] or None})
    except ValidationError as error:
        fields = {str(p["loc"][0]) for p in error.errors() if p["loc"]}
        texts = {"month": _("Enter a month as year and month, for example 2026-03"),
                 "level": _("Choose how finely to split the regions"),
                 "programme": _("Choose a programme")}
        return None, sent, [{"field": f, "text": texts[f]} for f in texts if f in fields]
    return query, sent, []


def _programmes(query: MonthlyQuery) -> tuple[str, ...]:
    return (query.programme,) if query.programme else ()


@blueprint.get("/reports", endpoint="reports")
def reports_page() -> tuple[str, int]:
    query, sent, errors = _query()
    titles = monthly_report.titles(i18n.language())
    context: dict[str, Any] = {"sent": sent, "titles": titles, "levels": list(reports.LEVELS)}
    if query is None:
        return page("console/reports.html", 400, errors=errors, report=None, **context)
    report, _pdf = monthly_report.build(session(), query.month, level=query.level,
                                        programmes=_programmes(query), with_pdf=False)
    session().rollback()
    return page("console/reports.html", report=report, **context)


@blueprint.get("/reports/monthly.pdf")
def reports_pdf() -> Response | tuple[str, int]:
    query, sent, errors = _query()
    if query is None:
        return page("console/reports.html", 400, errors=errors, report=None, sent=sent,
                    titles=monthly_report.titles(i18n.language()),
                    levels=list(reports.LEVELS))
    _report, pdf = monthly_report.build(session(), query.month, level=query.level,
                                        programmes=_programmes(query))
    session().rollback()
    assert pdf is not None
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="laporan-{query.month}.pdf"'})
