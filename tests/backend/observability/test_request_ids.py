"""Request ids: taken when well formed, made otherwise, echoed, and in every log line."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from backend.observability import logs, requestid


class Lines(logging.Handler):
    """The access logger's lines as the JSON formatter writes them."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logs.JsonFormatter())
        self.lines: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@contextmanager
def listen(monkeypatch, name: str, handler: logging.Handler) -> Iterator[None]:
    """`handler` alone on logger `name` at INFO, as it was again afterwards."""
    logger = logging.getLogger(name)
    monkeypatch.setattr(logger, "handlers", [handler])
    monkeypatch.setattr(logger, "disabled", False)
    level = logger.level
    logger.setLevel(logging.INFO)  # setLevel, not setattr: it clears the level cache
    try:
        yield
    finally:
        logger.setLevel(level)


@pytest.fixture
def access_lines(monkeypatch) -> Iterator[Lines]:
    handler = Lines()
    with listen(monkeypatch, logs.ACCESS_LOGGER, handler):
        yield handler


def test_a_request_id_sent_is_echoed_and_in_the_json_access_line(client, access_lines):
    answer = client.get("/api/v1/health", headers={"X-Request-Id": "kiosk-7.tap_0042"})
    assert answer.headers["X-Request-Id"] == "kiosk-7.tap_0042"
    [line] = [entry for entry in access_lines.lines if entry["request_id"] == "kiosk-7.tap_0042"]
    assert line["logger"] == logs.ACCESS_LOGGER
    assert (line["method"], line["path"], line["status"]) == ("GET", "/api/v1/health", 200)
    assert line["duration_ms"] >= 0
    assert {"time", "level", "message"} <= line.keys()


@pytest.mark.parametrize("sent", ["short", "x" * 65, "has space-in-it", "line\\nbreak-0001",
                                  '{"json":"forged"}'])
def test_a_malformed_request_id_is_replaced_by_one_of_the_hubs(client, sent):
    answer = client.get("/api/v1/health", headers={"X-Request-Id": sent})
    echoed = answer.headers["X-Request-Id"]
    assert echoed != sent
    assert requestid.SHAPE.fullmatch(echoed) and len(echoed) == 32


def test_a_request_without_an_id_gets_a_new_one_each_time(client):
    first = client.get("/api/v1/health").headers["X-Request-Id"]
    second = client.get("/api/v1/health").headers["X-Request-Id"]
    assert first != second


def test_a_refusal_carries_the_request_id_too(client):
    answer = client.get("/api/v1/no-such-thing", headers={"X-Request-Id": "refused-0001"})
    assert answer.status_code == 404
    assert answer.headers["X-Request-Id"] == "refused-0001"


def test_a_line_logged_inside_the_request_carries_its_id(app, client, monkeypatch):
    handler = Lines()
    app.config["CA_DIR"] = app.instance_path + "/no-ca-here"
    with listen(monkeypatch, "backend.observability.readiness", handler):
        client.get("/api/v1/ready", headers={"X-Request-Id": "ready-probe-01"})
    assert handler.lines
    assert {line["request_id"] for line in handler.lines} == {"ready-probe-01"}


def test_the_text_format_puts_the_request_id_in_brackets(client, monkeypatch):
    seen: list[str] = []

    class Text(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(logs.TextFormatter().format(record))

    with listen(monkeypatch, logs.ACCESS_LOGGER, Text()):
        client.get("/api/v1/health", headers={"X-Request-Id": "text-line-01"})
    assert any("[text-line-01] GET /api/v1/health 200" in line for line in seen)


def test_a_screen_answers_with_the_request_id(db_url, instance_dir):
    import admin
    from backend.app import create_app

    hub = create_app(DATABASE_URL=db_url, INSTANCE_DIR=str(instance_dir),
                     SECRET_KEY="test-secret-key-not-for-production")
    admin.init_app(hub)
    try:
        answer = hub.test_client().get("/kiosk/", headers={"X-Request-Id": "screen-0001"})
    finally:
        hub.extensions["satukartu.db"].engine.dispose()
    assert answer.headers["X-Request-Id"] == "screen-0001"
