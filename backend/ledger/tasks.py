"""Celery tasks: the periodic allocations and the lapsing of expired credit.

Allocation tasks are late-acknowledged and rejected back to the queue if their worker
dies, so a SIGKILL mid-run means the broker hands the task to the next worker, which
resumes after the last committed batch (`backend.ledger.allocation`). Every task is
safe to run twice. Tasks asked for from a request are sent after its commit
(`backend.tasks.send_after_commit`).
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from celery import shared_task
from celery.schedules import crontab
from flask import current_app

log = logging.getLogger(__name__)

BEAT: dict[str, dict[str, Any]] = {
    "ledger-monthly-allocations": {
        "task": "ledger.allocate_due", "args": ("monthly",),
        "schedule": crontab(minute=0, hour=1, day_of_month=1)},
    "ledger-quarterly-allocations": {
        "task": "ledger.allocate_due", "args": ("quarterly",),
        "schedule": crontab(minute=0, hour=2, day_of_month=1, month_of_year="1,4,7,10")},
    "ledger-semester-allocations": {
        "task": "ledger.allocate_due", "args": ("semester",),
        "schedule": crontab(minute=0, hour=3, day_of_month=1, month_of_year="1,7")},
    "ledger-expiry": {
        "task": "ledger.expire_due", "schedule": crontab(minute=30, hour=0)},
}


@shared_task(name="ledger.allocate", acks_late=True, reject_on_worker_lost=True,
             ignore_result=True)
def allocate_task(programme: str, purse: str, period: str) -> dict[str, int]:
    """One allocation, resumed wherever an earlier attempt stopped."""
    from backend.db import database
    from backend.ledger.allocation import allocate
    from backend.services import Period
    from backend.services.catalogue import modules

    module = modules().get(programme)
    allocation = next((a for a in module.allocations if a.purse == purse), None) \
        if module is not None else None
    if module is None or allocation is None:  # turned off (or gone) since it was queued
        log.warning("allocation %s/%s %s skipped: the programme is not enabled or has no "
                    "such allocation", programme, purse, period)
        return {"granted": 0, "amount": 0, "batches": 0}
    done = allocate(database(), module, allocation, Period.parse(period),
                    batch=current_app.config["ALLOCATION_BATCH"])
    log.info("allocated %s/%s %s: %s grants, %s", programme, purse, period, done.granted,
             done.amount)
    return {"granted": done.granted, "amount": done.amount, "batches": done.batches}


@shared_task(name="ledger.allocate_due", acks_late=True, reject_on_worker_lost=True,
             ignore_result=True)
def allocate_due(cadence: str) -> list[tuple[str, str, str]]:
    """Queue every enabled allocation of `cadence` for the period due today."""
    from backend.services.catalogue import modules

    queued = []
    for module in modules().values():
        for allocation in module.allocations:
            if allocation.cadence == cadence:
                period = allocation.due_period(date.today()).key
                allocate_task.delay(module.key, allocation.purse, period)
                queued.append((module.key, allocation.purse, period))
    return queued


@shared_task(name="ledger.expire_due", acks_late=True, reject_on_worker_lost=True,
             ignore_result=True)
def expire_due() -> int:
    return sum(amount for _, amount in expire_all(date.today()).values())


def expire_all(day: date) -> dict[tuple[str, str], tuple[int, int]]:
    """Lapse, in every enabled programme, credit that expired before `day`."""
    from backend.db import database
    from backend.ledger.expiry import expire
    from backend.services.catalogue import modules

    done = {}
    for module in modules().values():
        for purse, rule in module.purses.items():
            if not rule.carry_over or rule.expires_after_days is not None:
                done[(module.key, purse)] = expire(database(), module.key, purse, as_of=day,
                                                   batch=current_app.config["ALLOCATION_BATCH"])
    return done
