"""The monthly report with the hub's settings: figures, programme names and the PDF."""

from __future__ import annotations

from collections.abc import Sequence

from flask import current_app
from sqlalchemy.orm import Session

from backend.documents import issuing, reports
from backend.documents.report_pdf import ReportPrint, render_report


def titles(language: str = "id") -> dict[str, str]:
    """Each loaded programme's name in `language`."""
    from backend.services.catalogue import modules

    return {key: module.title_in(language) for key, module in modules().items()}


def build(session: Session, month: str, *, level: str = "district",
          programmes: Sequence[str] = (), with_pdf: bool = True
          ) -> tuple[reports.MonthlyReport, bytes | None]:
    config = current_app.config
    report = reports.monthly(session, month, config["CITY_TIMEZONE"], level=level,
                             programmes=programmes)
    if not with_pdf:
        return report, None
    printing = ReportPrint(city=config["CITY_NAME"], font_dirs=tuple(config["FONT_DIRS"]),
                           zone=config["CITY_TIMEZONE"], generated_at=issuing.now(),
                           titles=titles())
    return report, render_report(report, printing)
