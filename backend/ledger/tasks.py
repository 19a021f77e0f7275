"""Celery tasks: the periodic allocations and the lapsing of expired credit.

Allocation tasks are late-acknowledged and rejected back to the queue if their worker
dies, so a SIGKILL mid-run means the broker hands the task to the next worker, which
resumes after the last committed batch (`backend.ledger.allocation`). Every task is
safe to run twice. Tasks asked for from a request are sent after its commit
(`backend.tasks.send_after_commit`).

A period can also be split by district (`backend.ledger.split`): `ledger.allocate_split`
prepares it and sends one `ledger.allocate_part` per district to the queue it came
from, so every worker on that queue takes parts; each part resumes on its own, and
the part that finds every part finished logs the period complete.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import TYPE_CHECKING, Any

from celery import Task, shared_task
from celery.schedules import crontab
from flask import current_app

if TYPE_CHECKING:
    from backend.services import Allocation, ServiceModule

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

    found = _enabled(programme, purse, period)
    if found is None:
        return {"granted": 0, "amount": 0, "batches": 0}
    module, allocation = found
    done = allocate(database(), module, allocation, Period.parse(period),
                    batch=current_app.config["ALLOCATION_BATCH"])
    log.info("allocated %s/%s %s: %s grants, %s", programme, purse, period, done.granted,
             done.amount)
    return {"granted": done.granted, "amount": done.amount, "batches": done.batches}


@shared_task(name="ledger.allocate_split", bind=True, acks_late=True,
             reject_on_worker_lost=True, ignore_result=True)
def allocate_split_task(self: Task, programme: str, purse: str, period: str) -> list[str]:
    """Prepare the period once and queue its districts as parts; safe to run twice
    (prepared rows stay, a part already done is a no-op when delivered again)."""
    from backend.db import database
    from backend.ledger.split import plan
    from backend.services import Period

    found = _enabled(programme, purse, period)
    if found is None:
        return []
    module, allocation = found
    parts = plan(database(), module, allocation, Period.parse(period),
                 batch=current_app.config["ALLOCATION_BATCH"])
    # The parts follow the period onto its queue: whoever consumes it shares them.
    queue = (self.request.delivery_info or {}).get("routing_key")
    for part in parts:
        args = (programme, purse, period, part.key)
        if queue:
            allocate_part_task.apply_async(args, queue=queue)
        else:
            allocate_part_task.apply_async(args)
    log.info("allocation %s/%s %s split into %s parts", programme, purse, period, len(parts))
    return [part.key for part in parts]


@shared_task(name="ledger.allocate_part", acks_late=True, reject_on_worker_lost=True,
             ignore_result=True)
def allocate_part_task(programme: str, purse: str, period: str, part: str) -> dict[str, int]:
    """One district of a split period, resumed wherever an earlier attempt stopped."""
    from backend.db import database
    from backend.ledger.allocation import allocate_part
    from backend.ledger.parts import Part
    from backend.ledger.split import progress
    from backend.services import Period

    found = _enabled(programme, purse, period)
    if found is None:
        return {"granted": 0, "amount": 0, "batches": 0}
    module, allocation = found
    done = allocate_part(database(), module, allocation, Period.parse(period), Part(part),
                         batch=current_app.config["ALLOCATION_BATCH"])
    log.info("allocated %s/%s %s part %s: %s grants, %s", programme, purse, period, part,
             done.granted, done.amount)
    with database().transaction() as sess:
        now = progress(sess, programme, purse, period)
    if now.complete:  # the last part to finish says so (two at one instant both do)
        log.info("allocation %s/%s %s complete: %s parts, %s grants, %s", programme, purse,
                 period, now.parts, now.granted, now.amount)
    return {"granted": done.granted, "amount": done.amount, "batches": done.batches}


def _enabled(programme: str, purse: str,
             period: str) -> tuple[ServiceModule, Allocation] | None:
    from backend.services.catalogue import modules

    module = modules().get(programme)
    allocation = next((a for a in module.allocations if a.purse == purse), None) \
        if module is not None else None
    if module is None or allocation is None:  # turned off (or gone) since it was queued
        log.warning("allocation %s/%s %s skipped: the programme is not enabled or has no "
                    "such allocation", programme, purse, period)
        return None
    return module, allocation


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
