"""Judge days and write their reports: what the API, the command line and the daily job call."""


from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from backend.signals.data import CAP_PARAMETER, history, load_day
from backend.signals.detect import Signal, Thresholds, detect


def caps(sess: Session) -> dict[str, int]:
    """Each programme's largest single redemption, as it is configured now."""
    from backend.programmes.settings import list_programmes

    found = {}
    for view in list_programmes(sess):
        for parameter in view.parameters:
            if parameter.name == CAP_PARAMETER and parameter.value.isdigit():
                found[view.key] = int(parameter.value)
    return found


def days_between(since: date, until: date) -> list[date]:
    return [since + timedelta(days=n) for n in range((until - since).days + 1)]


def run(sess: Session, audit: Connection, since: date, until: date,
        limits: Thresholds = Thresholds()) -> list[Signal]:
    """The signals of every local day from `since` to `until`, both included."""
    zone = current_app.config["CITY_TIMEZONE"]
    programme_caps, takings = caps(sess), history(sess, since, until, zone)
    return [signal for day in days_between(since, until) for signal in detect(
        load_day(sess, audit, day, zone, programme_caps, takings), limits)]


def write_reports(sess: Session, audit: Connection, day: date, folder: Path,
                  made_at: datetime) -> tuple[list[Signal], Path, Path]:
    """The day's signals as `<folder>/signals-<day>.csv` and `.pdf`, each written whole
    (a temporary file renamed), so an inspector never opens half a report."""
    from backend.signals.report import to_csv, to_pdf

    found = run(sess, audit, day, day)
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, pdf_path = folder / f"signals-{day}.csv", folder / f"signals-{day}.pdf"
    for path, body in ((csv_path, to_csv(found).encode("utf-8")),
                       (pdf_path, to_pdf(found, day, day, current_app.config["CITY_NAME"],
                                         made_at))):
        partial = path.with_suffix(path.suffix + ".partial")
        partial.write_bytes(body)
        partial.replace(path)
    return found, csv_path, pdf_path


def report_day(day: date | None = None, folder: Path | None = None
               ) -> tuple[date, list[Signal], Path, Path]:
    """Judge `day` (default: yesterday, the city's local day) and write its reports
    (default folder: INSTANCE_DIR/signals); the run is counted in the audit log. For
    the daily job and the command line."""
    from zoneinfo import ZoneInfo

    from backend.audit import record
    from backend.audit.sequencer import settle
    from backend.db import database

    config = current_app.config
    now = datetime.now(ZoneInfo(config["CITY_TIMEZONE"]))
    judged = day or now.date() - timedelta(days=1)
    target = folder or Path(config["INSTANCE_DIR"]) / "signals"
    db = database()
    settle(db.engine)  # the refusals committed before now are in the chain it reads
    with db.transaction() as sess:
        found, csv_path, pdf_path = write_reports(sess, sess.connection(), judged, target, now)
        record(sess, action="ledger.signals.report", subject_type="signals",
               subject_id=str(judged), purpose="irregularity review",
               details={"signals": len(found), "report": csv_path.name})
    return judged, found, csv_path, pdf_path
