"""One id per request, from the caller or made here, on the answer and in every log line.

A kiosk's reader daemon sends a fresh `X-Request-Id` with each call and logs it, so an
operator can follow one tap from the kiosk's log into the hub's. An id that is not
well formed (too short, too long, odd characters that could forge log fields) is
replaced, never repeated back.
"""

from __future__ import annotations

import re
import time
import uuid

from flask import Flask, Response, has_request_context, request

HEADER = "X-Request-Id"
SHAPE = re.compile(r"[A-Za-z0-9._-]{8,64}")
_ID_KEY = "satukartu.request_id"
_STARTED_KEY = "satukartu.request_started"


def choose(sent: str | None) -> str:
    """The caller's id if it is well formed, else a new one (uuid4, hex)."""
    if sent is not None and SHAPE.fullmatch(sent):
        return sent
    return uuid.uuid4().hex


def current() -> str | None:
    """This request's id; None outside a request (a task, the CLI)."""
    if not has_request_context():
        return None
    return request.environ.get(_ID_KEY)


def elapsed_ms() -> float | None:
    """Milliseconds since this request's id was chosen (its start, for the access line)."""
    started = request.environ.get(_STARTED_KEY) if has_request_context() else None
    return None if started is None else (time.perf_counter() - started) * 1000


def init_app(app: Flask) -> None:
    """Choose the id before anything else runs, and put it on every answer: API,
    screens and error pages alike. Kept in the WSGI environ, not in `g`, since one
    application context can outlive many requests (tests)."""

    @app.before_request
    def _take_request_id() -> None:
        request.environ[_STARTED_KEY] = time.perf_counter()
        request.environ[_ID_KEY] = choose(request.headers.get(HEADER))

    @app.after_request
    def _echo_request_id(response: Response) -> Response:
        request_id = current()
        if request_id is not None:
            response.headers[HEADER] = request_id
        return response
