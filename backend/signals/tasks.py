"""The daily job: yesterday's signals written as reports for the inspectors."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from celery import shared_task
from celery.schedules import crontab

from backend.signals.judge import report_day

log = logging.getLogger(__name__)

BEAT: dict[str, dict[str, Any]] = {
    "signals-daily": {"task": "signals.daily", "schedule": crontab(minute=45, hour=0)},
}


@shared_task(name="signals.daily", ignore_result=True)
def signals_daily(day: str | None = None) -> dict[str, Any]:
    """Yesterday's irregularity signals, written as CSV and PDF under
    INSTANCE_DIR/signals. Safe to run twice: the reports are rewritten whole."""
    judged, found, _csv, _pdf = report_day(date.fromisoformat(day) if day else None)
    log.info("irregularity signals for %s: %s", judged, len(found))
    return {"day": str(judged), "signals": len(found)}
