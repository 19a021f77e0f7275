"""Running the hub's processes: the API under gunicorn, Celery worker and beat."""

from __future__ import annotations

import os
import sys

import click

# gunicorn's settings module: the hook that keeps multiprocess metrics right.
GUNICORN_CONFIG = "python:backend.observability.gunicorn_config"


def _exec(argv: list[str]) -> None:
    """Replace this process, so signals (Ctrl-C, SIGTERM) reach the server itself."""
    sys.stdout.flush()
    os.execvp(argv[0], argv)  # noqa: S606 - argv is built here, not from user text


@click.command()
@click.option("--bind", default="127.0.0.1:8000", show_default=True, help="HOST:PORT")
@click.option("--workers", default=lambda: os.cpu_count() or 2, type=int,
              help="gunicorn worker processes (default: one per core)")
@click.option("--threads", default=4, show_default=True, type=int)
def serve(bind: str, workers: int, threads: int) -> None:
    """The hub's API under gunicorn."""
    from backend import config
    from backend.observability import multiproc

    # Metrics from every worker, summed at each scrape (backend/observability/metrics.py).
    multiproc.prepare(config.load()["INSTANCE_DIR"])
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    # No gunicorn access log: the hub writes its own access line, with the request id.
    _exec([gunicorn, "--config", GUNICORN_CONFIG, "--bind", bind, "--workers", str(workers),
           "--threads", str(threads), "--worker-class", "gthread", "--graceful-timeout", "10",
           "backend.wsgi:app"])


@click.command()
@click.option("--concurrency", default=2, show_default=True, type=int)
@click.option("--queues", default="celery,bulk", show_default=True,
              help="comma-separated: celery (short tasks), bulk (allocations, expiry, "
                   "bulk jobs)")
@click.option("--pool", default="prefork", show_default=True,
              type=click.Choice(["prefork", "threads", "solo"]))
def worker(concurrency: int, queues: str, pool: str) -> None:
    """A Celery worker for the hub's background tasks."""
    celery = os.path.join(os.path.dirname(sys.executable), "celery")
    _exec([celery, "-A", "backend.worker", "worker", "--loglevel", "INFO",
           "--concurrency", str(concurrency), "--queues", queues, "--pool", pool])


@click.command()
@click.option("--schedule", default=None, help="beat's schedule file (default: instance folder)")
def beat(schedule: str | None) -> None:
    """Celery beat: the periodic allocations, checkpoints and CRLs."""
    from backend import config

    values = config.load()
    path = schedule or os.path.join(values["INSTANCE_DIR"], "celerybeat-schedule")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    celery = os.path.join(os.path.dirname(sys.executable), "celery")
    _exec([celery, "-A", "backend.worker", "beat", "--loglevel", "INFO", "--schedule", path])
