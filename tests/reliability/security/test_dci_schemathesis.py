"""Schemathesis against the SPDCI Social Registry endpoints, in-process, from the
standard's own document (mended, backend/dci/spec.py).

Each SR endpoint (search, subscribe, unsubscribe, txn/status and the two sync ones) gets
schema-valid and schema-invalid requests from a registered peer with a valid token. A
generated envelope whose header and message are objects is made the peer's and signed
with its key, so the requests get past the signature into the search, the
subscriptions and the status lookups. Every answer must be a non-5xx that matches the
document (status code, content type, body).

Not checked: `positive_data_acceptance` and `negative_data_rejection`. The document
cannot say "a NIK that exists" or "an item the registry can answer", and per the
standard a request's items are judged in its callback (202 ACK, then rjct per item).

Examples per endpoint: `SATUKARTU_FUZZ_EXAMPLES` (default 20).
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.core.failures import FailureGroup

from backend.dci import spec
from backend.tasks import celery_init_app
from backend.testing.registry import make_citizen
from tests.backend.dci.conftest import Peer, make_peer

EXAMPLES = int(os.environ.get("SATUKARTU_FUZZ_EXAMPLES", "20"))
SR_ENDPOINTS = ("/registry/search", "/registry/subscribe", "/registry/unsubscribe",
                "/registry/txn/status", "/registry/sync/search", "/registry/sync/txn/status")
load_all_checks()
EXCLUDED = [check for check in CHECKS.get_all()
            if check.__name__ in ("positive_data_acceptance", "negative_data_rejection")]

pytestmark = pytest.mark.slow


def made_the_peers(body: Any, peer: Peer, tidy: bool) -> Any:
    """A generated envelope as the peer would send it: its sender_id, our receiver_id,
    its signature; when `tidy`, also the header fields a real peer never gets wrong
    (version, encryption, a count, no foreign callback URI), so that the message
    itself is what is tried. Anything else is sent as generated."""
    if not isinstance(body, dict) or not isinstance(body.get("header"), dict):
        return body
    header = {**body["header"], "sender_id": peer.row.sender_id}
    if "receiver_id" in header:
        header["receiver_id"] = "satukartu"
    if tidy:
        header.update(version="1.0.0", is_msg_encrypted=False, total_count=1,
                      message_id=uuid.uuid4().hex)
        header.pop("sender_uri", None)
    message = body.get("message")
    return {**body, "header": header, "signature": peer.sign(header, message)}


def exercise(app: Any, peer: Peer, path: str) -> dict[str, str]:
    schema = schemathesis.openapi.from_dict(spec.document())
    schema.app = app
    operation = schema[path]["POST"]
    found: dict[str, str] = {}
    modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=st.one_of(*[operation.as_strategy(mode) for mode in modes]),
           tidy=st.booleans())
    def run(case: Any, tidy: bool) -> None:
        if case.media_type == "application/json":
            case.body = made_the_peers(case.body, peer, tidy)
        try:
            case.call_and_validate(headers={"Authorization": f"Bearer {peer.token}"},
                                   excluded_checks=EXCLUDED)
        except FailureGroup as failures:
            for failure in failures.exceptions:
                found.setdefault(f"POST {path}: {failure.title}", str(failures)[:3000])

    run()
    return found


def test_the_sr_endpoints_answer_within_the_document_and_never_with_a_server_error(
        app, client):
    app.config.update(BROKER_URL="memory://", RESULT_BACKEND="cache+memory://")
    celery_init_app(app)
    make_citizen(national_number="3171011705900001")
    peer = make_peer(client)
    found: dict[str, str] = {}
    for path in SR_ENDPOINTS:
        found.update(exercise(app, peer, path))
    assert not found, "\n\n".join(f"{title}\n{report}" for title, report in found.items())
