"""Irregularity signals for a programme's inspectors: JSON, CSV and PDF, every read audited."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, current_app

from backend.api.routing import Api, OutModel, StrictModel
from backend.audit import record
from backend.audit.reading import chained_connection
from backend.db import session
from backend.ledger.api import OVERSIGHT, checked_range
from backend.signals.judge import run
from backend.signals.report import to_csv, to_pdf

api = Api("signals", url_prefix="/ledger", tag="ledger")


class SignalsQuery(StrictModel):
    since: date
    until: date


class SignalOut(OutModel):
    day: date
    kind: str
    subject_type: str
    subject: str
    summary: str
    measure: float
    threshold: float
    evidence: list[int]
    times: list[str]


class SignalsOut(OutModel):
    signals: list[SignalOut]


def _signals(query: SignalsQuery, form: str) -> list[Any]:
    """The days' signals, read from the chained audit log, the read itself audited."""
    checked_range(query.since, query.until)  # the patterns' bounds: 1 to 31 days
    found = run(session(), chained_connection(), query.since, query.until)
    record(session(), action="ledger.signals.read", subject_type="signals",
           subject_id=f"{query.since}..{query.until}", purpose="irregularity review",
           details={"since": query.since.isoformat(), "until": query.until.isoformat(),
                    "format": form, "signals": len(found)})
    return found


@api.route("/signals", summary="Irregularity signals at agents, day by day",
           auth=OVERSIGHT, query=SignalsQuery, response=SignalsOut)
def list_signals(query: SignalsQuery) -> SignalsOut:
    """Each signal names its agent (or card), what was seen against which threshold,
    and the journal entries (audit records for refusals) that tripped it."""
    return SignalsOut(signals=[SignalOut(**{**s.__dict__, "evidence": list(s.evidence),
                                            "times": list(s.times)})
                               for s in _signals(query, "json")])


@api.route("/signals.csv", summary="Irregularity signals as CSV", auth=OVERSIGHT,
           query=SignalsQuery, content_type="text/csv")
def signals_csv(query: SignalsQuery) -> Response:
    body = to_csv(_signals(query, "csv"))
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="signals-{query.since}-{query.until}.csv"'})


@api.route("/signals.pdf", summary="Irregularity signals as a PDF report", auth=OVERSIGHT,
           query=SignalsQuery, content_type="application/pdf")
def signals_pdf(query: SignalsQuery) -> Response:
    found = _signals(query, "pdf")
    pdf = to_pdf(found, query.since, query.until, current_app.config["CITY_NAME"],
                 datetime.now(ZoneInfo(current_app.config["CITY_TIMEZONE"])))
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="signals-{query.since}-{query.until}.pdf"'})
