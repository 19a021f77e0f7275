"""Prometheus metrics: what an operator graphs and alerts on.

- `satukartu_card_authentications_total{outcome}`: card tokens presented, `ok` or the
  refusal's reason;
- `satukartu_refusals_total{reason}`: every refusal the API answers;
- `satukartu_service_actions_total{programme,action,outcome}`: programme actions,
  from the API and the screens alike (counted where both run them,
  `backend.services.perform`);
- `satukartu_request_duration_seconds{endpoint,method}` and
  `satukartu_responses_total{endpoint,method,status}`: by the route's rule
  (`/api/v1/cards/<serial>`), never the path, so a scan of made-up URLs cannot
  create series without end;
- `satukartu_audit_reads_total{served_by}`: the audit log's readers, by what served
  them (`backend.audit.reading`: the primary, or a replica that had caught up);
- `satukartu_audit_queue_depth`: audit records waiting for the sequencer, read from
  the database when scraped (a queue that keeps growing: the chain is stuck).

Under gunicorn every worker is its own process: `satukartu serve` points
PROMETHEUS_MULTIPROC_DIR at a folder where each writes its values, and a scrape sums
them (prometheus_client's multiprocess mode, `multiproc.py`). Every label's values
come from a closed set (reasons, installed programmes and their actions, route rules,
standard methods), whatever a caller sends.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable

from flask import Flask, Response, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import Engine, text

from backend.api.routing import Operation, add_refusal_hook
from backend.audit import sequencer
from backend.audit.reading import READS as AUDIT_READS
from backend.auth.principal import Principal
from backend.errors import ApiError
from backend.observability import requestid
from backend.observability.multiproc import ENV as MULTIPROC_ENV
from backend.services.catalogue import EXTENSION as PROGRAMMES

log = logging.getLogger(__name__)

CARD_TOKEN_ENDPOINT = "api_cards.token"
UNKNOWN = "unknown"
CONTENT_TYPE = CONTENT_TYPE_LATEST
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_REASON_KEY = "satukartu.refusal_reason"

AUTHENTICATIONS = Counter("satukartu_card_authentications", "Card tokens presented at "
                          "the token endpoint, by outcome: ok or the refusal's reason.",
                          ["outcome"], registry=None)
REFUSALS = Counter("satukartu_refusals", "Refusals the API answered, by reason.",
                   ["reason"], registry=None)
SERVICE_ACTIONS = Counter("satukartu_service_actions", "Programme actions run from the "
                          "API or a screen, by programme, action and outcome (ok or the "
                          "reason).",
                          ["programme", "action", "outcome"], registry=None)
LATENCY = Histogram("satukartu_request_duration_seconds", "Time the hub took to answer, "
                    "by route rule and method.", ["endpoint", "method"], registry=None)
RESPONSES = Counter("satukartu_responses", "Answers by route rule, method and status.",
                    ["endpoint", "method", "status"], registry=None)
METRICS: tuple[Collector, ...] = (AUTHENTICATIONS, REFUSALS, SERVICE_ACTIONS, LATENCY,
                                  RESPONSES, AUDIT_READS)


class AuditQueueCollector(Collector):
    """The audit queue's depth, counted when Prometheus asks (not kept per process)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterable[Metric]:
        try:
            with self.engine.connect() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SET LOCAL statement_timeout = 2000"))
                depth = sequencer.queued(conn)
        except Exception as exc:  # a scrape must answer even with the database down
            log.warning("audit queue depth unavailable: %s", type(exc).__name__)
            return []
        gauge = GaugeMetricFamily("satukartu_audit_queue_depth", "Audit records waiting "
                                  "for the sequencer (0 where records chain at commit).")
        gauge.add_metric([], depth)
        return [gauge]


def exposition(engine: Engine) -> bytes:
    """The text Prometheus scrapes: every worker's values when multiprocess, this
    process's otherwise, and the audit queue's depth."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get(MULTIPROC_ENV):
        MultiProcessCollector(registry)
    else:
        for metric in METRICS:
            registry.register(metric)
    registry.register(AuditQueueCollector(engine))
    return generate_latest(registry)


def _count_refusal(_principal: Principal | None, _op: Operation, error: ApiError) -> None:
    REFUSALS.labels(error.reason.value).inc()
    request.environ[_REASON_KEY] = error.reason.value


def _programme_labels(key: str, action: str) -> tuple[str, str]:
    """An installed programme's key and one of its actions, else `unknown`."""
    programmes = current_app.extensions.get(PROGRAMMES)
    module = programmes.catalogue.base.get(key) if programmes is not None else None
    if module is None:
        return UNKNOWN, UNKNOWN
    return key, action if action in module.actions else UNKNOWN


def _observe(response: Response) -> None:
    rule = request.url_rule
    endpoint = rule.rule if rule is not None else "unmatched"
    method = request.method if request.method in METHODS else "other"
    elapsed = requestid.elapsed_ms()
    if elapsed is not None:
        LATENCY.labels(endpoint, method).observe(elapsed / 1000)
    RESPONSES.labels(endpoint, method, str(response.status_code)).inc()
    outcome = ("ok" if response.status_code < 400
               else request.environ.get(_REASON_KEY, "error"))
    if request.endpoint == CARD_TOKEN_ENDPOINT:
        AUTHENTICATIONS.labels(outcome).inc()


def count_service_action(key: str, action: str, outcome: str) -> None:
    """One programme action run, `ok` or the refusal's reason."""
    try:
        SERVICE_ACTIONS.labels(*_programme_labels(key, action), outcome).inc()
    except Exception:  # a metric must never cost the caller an answer
        log.warning("could not count a programme action", exc_info=True)


def init_app(app: Flask) -> None:
    add_refusal_hook(app, _count_refusal)

    @app.after_request
    def _measure(response: Response) -> Response:
        try:
            _observe(response)
        except Exception:  # a metric must never cost the caller an answer
            log.warning("could not record the request's metrics", exc_info=True)
        return response

