"""Where gunicorn's workers keep their metric values, so a scrape sums all of them.

Free of prometheus_client at import: `satukartu serve` sets PROMETHEUS_MULTIPROC_DIR
here before gunicorn starts, and prometheus_client decides at its own import whether
values live in files, so nothing may import it earlier in a worker.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"
FOLDER = "metrics"


def prepare(instance_dir: str) -> Path:
    """The folder for this run's values: PROMETHEUS_MULTIPROC_DIR, else `metrics/` in the
    instance folder. Emptied of an earlier run's files, whose pids mean nothing now
    (and would add a dead run's counts to this one's), then exported."""
    path = Path(os.environ.get(ENV) or Path(instance_dir) / FOLDER)
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.db"):
        old.unlink()
    os.environ[ENV] = str(path)
    return path


def mark_dead(pid: int) -> None:
    """A worker has exited: drop its live-gauge files (its counters stay in the sums)."""
    if os.environ.get(ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
