"""Periodic and threshold checkpoints: every minute (beat) and after every 1,000 records.

The threshold task is sent only after the transaction that crossed the boundary
commits, and only where a Celery app was made from the Flask app (the web process
and the worker); elsewhere beat's next minute covers it.
"""

from __future__ import annotations

import logging

from celery import shared_task
from flask import current_app, has_app_context
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
EVERY_RECORDS = 1000

BEAT = {
    "audit-checkpoint-every-minute": {
        "task": "backend.audit.tasks.checkpoint",
        "schedule": 60.0,
    },
}


@shared_task(name="backend.audit.tasks.checkpoint", ignore_result=True)
def checkpoint() -> int | None:
    """Sign the chain's current head if it grew since the last checkpoint."""
    from backend.audit.checkpoints import make_checkpoint
    from backend.db import database

    made = make_checkpoint(database(), current_app.config)
    return made.size if made is not None else None


def checkpoint_if_due(session: Session | None, first: int, last: int) -> None:
    """After a commit that crossed a multiple of EVERY_RECORDS, ask for a checkpoint
    (once `session` commits; now if there is no session because it already has)."""
    if (first - 1) // EVERY_RECORDS == last // EVERY_RECORDS:
        return
    if not has_app_context() or "celery" not in current_app.extensions:
        return
    if session is None:
        _send_checkpoint.apply_async()
        return
    from backend.tasks import send_after_commit

    send_after_commit(session, _send_checkpoint)


class _Sender:
    """Sends the checkpoint task, never failing the commit that already happened."""

    @staticmethod
    def apply_async(args: tuple = (), kwargs: dict | None = None) -> None:
        try:
            checkpoint.apply_async(args=args, kwargs=kwargs or {})
        except Exception:  # the broker is down: beat's next run covers this size
            log.warning("could not queue an audit checkpoint", exc_info=True)


_send_checkpoint = _Sender()
