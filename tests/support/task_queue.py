"""A test's own Celery queue: every task its app sends goes there, short or bulk, so
that only the test's own worker takes them, whoever else shares the broker."""

from __future__ import annotations

import uuid
from typing import Any

from backend.tasks import BULK_TASKS


def private_queue(celery: Any, prefix: str) -> str:
    """Route every task of `celery` to a new queue named after `prefix`; its name."""
    queue = f"{prefix}-{uuid.uuid4().hex[:8]}"
    celery.conf.task_default_queue = queue
    celery.conf.task_routes = {name: {"queue": queue} for name in BULK_TASKS}
    return queue
