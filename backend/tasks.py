"""The Celery app, made from the Flask app so every task runs inside its context.

Tasks live in each domain's `tasks.py` (listed in TASK_MODULES) as `@shared_task`s;
a domain's periodic work is its module-level `BEAT` dict, merged here into the beat
schedule. Tasks that change data are sent only after the transaction that asked for
them commits (`send_after_commit`).
"""

from __future__ import annotations

import importlib
from typing import Any

from celery import Celery, Task
from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

# Two queues, so that a month's allocation never delays a checkpoint or a CRL: the long,
# batched tasks go to BULK_QUEUE, everything else to Celery's default queue. A worker
# consumes both unless told otherwise (`satukartu worker --queues`); a city runs a pool
# for each (docker/compose.yaml: `worker` and `worker-bulk`).
DEFAULT_QUEUE = "celery"
BULK_QUEUE = "bulk"
BULK_TASKS = ("ledger.allocate", "ledger.allocate_split", "ledger.allocate_part",
              "ledger.expire_due", "bulk.run_job")

TASK_MODULES = (
    "backend.audit.tasks",
    "backend.cards.tasks",
    "backend.ledger.tasks",
    "backend.signals.tasks",
    "backend.approvals.tasks",
    "backend.bulk.tasks",
    "backend.partitions.tasks",
    "backend.dci.tasks",
)


def _task_modules() -> list[Any]:
    return [importlib.import_module(name) for name in TASK_MODULES]


def celery_init_app(app: Flask) -> Celery[Any]:  # Any: its task class is local
    class FlaskTask(Task):
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.name, task_cls=FlaskTask)
    broker = app.config["BROKER_URL"]
    celery.conf.update(
        broker_url=broker,
        result_backend=app.config["RESULT_BACKEND"] or _db_result_backend(app),
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_transport_options=_transport_options(broker),
        result_extended=True,
        timezone="UTC",
        task_default_queue=DEFAULT_QUEUE,
        task_routes={name: {"queue": BULK_QUEUE} for name in BULK_TASKS},
    )
    modules = _task_modules()
    schedule: dict[str, Any] = {}
    for module in modules:
        schedule.update(getattr(module, "BEAT", {}))
    celery.conf.beat_schedule = schedule
    celery.set_default()
    app.extensions["celery"] = celery
    return celery


def _transport_options(broker: str) -> dict[str, Any]:
    if broker.startswith(("redis", "rediss", "sqs")):
        # Above any countdown or task run time, so a late-acked task is not redelivered early.
        return {"visibility_timeout": 3 * 3600}
    if broker.startswith(("amqp", "amqps", "pyamqp")):
        # Publisher confirms: a send returns once RabbitMQ holds the message on disk.
        # Without them a broker killed after the send loses what it had only in memory.
        return {"confirm_publish": True}
    return {}


def _db_result_backend(app: Flask) -> str:
    url = app.config["DATABASE_URL"]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return "db+" + url


def send_after_commit(session: Session, task: Any, *args: Any, **kwargs: Any) -> None:
    """Queue `task` once `session` commits; nothing is sent if it rolls back."""

    def _send(_session: Session) -> None:
        task.apply_async(args=args, kwargs=kwargs)

    event.listen(session, "after_commit", _send, once=True)
