"""The hub's log lines: for people (`text`) or one JSON object per line (`json`).

The standard library's `logging` with two small formatters, rather than a library:
the fields are few and fixed (time, level, logger, message, request_id, and for the
access line method, path, status, duration_ms), and the reader daemon's
`card_reader/logs.py` already does the same without a dependency. Both formatters
take the request id from the request being served, so every line a request causes
carries it, whoever logged it.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, request

from backend.observability import requestid

ACCESS_LOGGER = "satukartu.access"
ACCESS_FIELDS = ("method", "path", "endpoint", "status", "duration_ms")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
_MARK = "satukartu_handler"


def _request_id(record: logging.LogRecord) -> str | None:
    return getattr(record, "request_id", None) or requestid.current()


class JsonFormatter(logging.Formatter):
    """One JSON object per line, UTC time with milliseconds; exceptions as a field."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": _request_id(record),
        }
        for name in ACCESS_FIELDS:
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The usual line, with the request id in brackets (`-` outside a request)."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        record.request_id = _request_id(record) or "-"
        return super().format(record)


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


def configure(level: str, log_format: str) -> None:
    """Send the process's log lines to stderr in `log_format`.

    As `logging.basicConfig` did before: a process whose root logger already has a
    handler someone else installed (pytest, an embedding program) keeps it and its
    level; a handler
    installed here is replaced, so a second app in the same process changes the format
    rather than doubling every line.
    """
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, _MARK, False)]
    if root.handlers and not ours:
        return  # theirs, level included (basicConfig left both alone too)
    root.setLevel(level)
    for handler in ours:
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(log_format))
    setattr(handler, _MARK, True)
    root.addHandler(handler)


def init_app(app: Flask) -> None:
    """One access line per request, after the answer is made: the hub's own, replacing
    gunicorn's, so that it carries the request id and the endpoint."""
    access = logging.getLogger(ACCESS_LOGGER)

    @app.after_request
    def _access_line(response: Response) -> Response:
        duration = requestid.elapsed_ms()
        rule = request.url_rule
        fields = {"method": request.method, "path": request.path,
                  "endpoint": rule.rule if rule is not None else None,
                  "status": response.status_code,
                  "duration_ms": round(duration, 3) if duration is not None else None}
        access.info("%s %s %s %.1fms", request.method, request.path, response.status_code,
                    duration or 0.0, extra=fields)
        return response
