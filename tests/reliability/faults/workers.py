"""Celery workers as real processes, and the hub's Celery app as their producer.

A worker is `celery -A backend.worker worker` (what `satukartu worker` runs) in a
process group of its own, configured only through SATUKARTU_* variables, so the test
can SIGKILL the whole worker or only the pool process running a task.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from celery import Celery

from backend.app import create_app
from backend.tasks import celery_init_app
from tests.reliability.faults.livehub import SECRET

CELERY = str(Path(sys.executable).parent / "celery")


def hub_settings(database_url: str, broker_url: str, instance_dir: Path,
                 **extra: str) -> dict[str, str]:
    return {"DATABASE_URL": database_url, "BROKER_URL": broker_url,
            "INSTANCE_DIR": str(instance_dir), "SECRET_KEY": SECRET, **extra}


def producer(settings: dict[str, str]) -> Celery:
    """The Celery app the hub itself sends tasks with, on these settings."""
    app = create_app(**settings, LOG_LEVEL="WARNING")
    return celery_init_app(app)


class Worker:
    """One worker process consuming `queue`, with one pool process (prefork)."""

    def __init__(self, settings: dict[str, str], queue: str, log: Path) -> None:
        self.env = {**os.environ, **{f"SATUKARTU_{k}": v for k, v in settings.items()},
                    "SATUKARTU_LOG_LEVEL": "INFO"}
        self.queue = queue
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        name = f"fault-{uuid.uuid4().hex[:8]}@%h"
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [CELERY, "-A", "backend.worker", "worker", "--loglevel", "INFO", "--pool",
                 "prefork", "--concurrency", "1", "--queues", self.queue, "--hostname", name,
                 "--without-gossip", "--without-mingle"],
                env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def wait_ready(self, within: float = 120) -> Worker:
        """Until the worker logs that it consumes (Celery's "ready."), so that a test
        sending work for two workers does not see the first take it all while the
        second is still starting on a loaded machine."""
        deadline = time.monotonic() + within
        while " ready." not in self.log_tail():
            if time.monotonic() > deadline:
                raise AssertionError(f"worker not ready in {within} s:\n{self.log_tail()}")
            time.sleep(0.1)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def pool_processes(self) -> list[int]:
        """The pool's child processes (those that run tasks)."""
        try:
            text = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text()
        except OSError:
            return []
        return [int(pid) for pid in text.split()]

    def kill_pool_process(self) -> int:
        """SIGKILL the process running the task; the worker itself stays up."""
        (child,) = self.pool_processes()
        os.kill(child, signal.SIGKILL)
        return child

    def kill(self) -> None:
        """SIGKILL the whole worker: the main process and its pool at once."""
        self.signal(signal.SIGKILL)

    def signal(self, sig: int) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, sig)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            self.proc.wait(10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)  # an orphaned pool process, if any
        self.proc = None

    def stop(self) -> None:
        self.signal(signal.SIGTERM)

    def log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-4000:]
        except OSError:
            return ""
