"""Periodic card work: a fresh CRL before the last one's nextUpdate, and tidying up.

The CRL is also re-signed on every status change (`lifecycle.py`); beat makes sure an
offline terminal never holds a CRL past its nextUpdate even when nothing changes.
"""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from flask import current_app
from sqlalchemy import delete

from backend.cards import crl
from backend.cards.store import card_sessions, challenges, utcnow

KEEP_SESSIONS = dt.timedelta(days=30)

BEAT = {
    "cards-publish-crl-hourly": {
        "task": "backend.cards.tasks.publish_crl",
        "schedule": 3600.0,
    },
    "cards-purge-daily": {
        "task": "backend.cards.tasks.purge",
        "schedule": 86400.0,
    },
}


@shared_task(name="backend.cards.tasks.publish_crl", ignore_result=True)
def publish_crl() -> int:
    """Sign a CRL now, keep it in the database and in CA_DIR/crl/; its number."""
    from backend.cards.context import state
    from backend.db import database

    with database().transaction() as tx:
        row = crl.publish(tx, state().issuing_ca(), current_app.config["CRL_VALIDITY_HOURS"],
                          note="periodic")
        number, der = row.number, row.der
    crl.write_file(current_app.config["CA_DIR"], der)
    return number


@shared_task(name="backend.cards.tasks.purge", ignore_result=True)
def purge() -> dict[str, int]:
    """Delete expired challenges and sessions that ended a month ago (the audit log
    keeps the record of each authentication)."""
    from backend.db import database

    now = utcnow()
    with database().transaction() as tx:
        conn = tx.connection()
        gone_challenges = conn.execute(delete(challenges).where(
            challenges.c.expires_at < now)).rowcount
        gone_sessions = conn.execute(delete(card_sessions).where(
            card_sessions.c.expires_at < now - KEEP_SESSIONS)).rowcount
    return {"challenges": gone_challenges, "sessions": gone_sessions}
