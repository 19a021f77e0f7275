"""gunicorn's settings module for `satukartu serve` (`--config python:...`).

- `child_exit`: prometheus_client's multiprocess mode needs the master to say when a
  worker dies, so that its live values stop counting.
- `logconfig_dict`: with SATUKARTU_LOG_FORMAT=json, gunicorn's own lines (workers
  booting, timeouts) are JSON too, so a log shipper reads one format.
"""

from __future__ import annotations

import os
from typing import Any

from backend.observability import multiproc


def child_exit(_server: Any, worker: Any) -> None:
    multiproc.mark_dead(worker.pid)


if os.environ.get("SATUKARTU_LOG_FORMAT", "").strip().lower() == "json":
    # Laid over gunicorn's defaults (whose handlers use the "generic" formatter). Its
    # loggers stop at their own handler; the root is left to the hub's own handler
    # (backend/observability/logs.py); and gunicorn's access line gives way to the
    # hub's, which carries the request id.
    logconfig_dict = {
        "formatters": {"generic": {"()": "backend.observability.logs.JsonFormatter"}},
        "root": {"level": "INFO", "handlers": []},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["error_console"],
                               "propagate": False, "qualname": "gunicorn.error"},
            "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False,
                                "qualname": "gunicorn.access"},
        },
    }
