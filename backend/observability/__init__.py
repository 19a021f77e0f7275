"""What an operator sees of a running hub: request ids, log lines, metrics, readiness.

`init_app` runs first in the app factory, so the request id is chosen before any
other hook logs, and is on every answer, API and screens alike.
"""

from __future__ import annotations

from flask import Flask

from backend.observability import logs, metrics, requestid


def init_app(app: Flask) -> None:
    requestid.init_app(app)
    logs.init_app(app)
    metrics.init_app(app)
