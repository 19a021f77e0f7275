"""Periodic approval work: expiring requests past their time (never approving them)."""

from __future__ import annotations

from celery import shared_task

BEAT = {
    "approvals-expire-hourly": {
        "task": "approvals.expire_due",
        "schedule": 3600.0,
    },
}


@shared_task(name="approvals.expire_due", ignore_result=True)
def expire_due() -> int:
    """Expire pending and approved requests whose time is up; how many."""
    from backend.approvals import service
    from backend.db import database

    with database().transaction() as tx:
        return len(service.expire_due(tx))
