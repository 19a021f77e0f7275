"""The daily upkeep of partitions, so a month's partition exists weeks before its rows."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.schedules import crontab

log = logging.getLogger(__name__)

BEAT = {
    "partitions-ensure-daily": {
        "task": "partitions.ensure",
        "schedule": crontab(minute=15, hour=0),
    },
}


@shared_task(name="partitions.ensure", ignore_result=True)
def ensure_task() -> list[str]:
    """Make the coming months' partitions; runs as the hub's role, through the owner's
    SECURITY DEFINER function (backend/partitions/upkeep.py)."""
    from backend.db import database
    from backend.partitions.upkeep import ensure

    with database().engine.begin() as conn:
        made = ensure(conn)
    if made:
        log.info("partitions made: %s", ", ".join(made))
    return made
