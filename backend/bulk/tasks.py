"""The Celery task that runs a bulk job.

Late-acknowledged and rejected back to the queue if its worker dies, so a killed
worker's job is handed to the next one, which goes on after the last committed batch
(`backend.bulk.runner`). Sending it twice is harmless: runners take turns per batch.
"""

from __future__ import annotations

from celery import shared_task
from flask import current_app


@shared_task(name="bulk.run_job", acks_late=True, reject_on_worker_lost=True,
             ignore_result=True)
def run_job_task(job_id: int) -> str:
    from backend.bulk.runner import run_job
    from backend.db import database

    return run_job(database(), job_id, batch=current_app.config["BULK_BATCH"])
