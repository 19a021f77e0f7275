"""Callbacks through a real Celery worker to a peer's real HTTP receiver: a search's
on-search, retried while the peer is down; a subscription's on-subscribe, and the
notification a registry change sends. Each callback is valid by the standard's document
and signed with the key our JWKS publishes."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from celery.contrib.testing.worker import start_worker
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from backend.db import database, session
from backend.dci import jwks, signing, spec
from backend.dci.models import DciTransaction
from backend.registry import service
from backend.registry.history import Actor
from backend.registry.models import Citizen
from backend.tasks import celery_init_app
from backend.testing.registry import make_citizen
from tests.backend.dci.conftest import Checked, make_peer
from tests.backend.dci.receiver import Received, receiving
from tests.support.task_queue import private_queue

REDIS = "redis://127.0.0.1:6379/0"
pytestmark = [pytest.mark.celery, pytest.mark.postgres]


@pytest.fixture
def worker(committing_app):
    committing_app.config["BROKER_URL"] = REDIS
    celery = celery_init_app(committing_app)
    queue = private_queue(celery, "dci-test")  # not shared with anyone's worker
    with start_worker(celery, pool="solo", perform_ping_check=False, queues=[queue],
                      shutdown_timeout=10):
        yield celery


def check_callback(received: Received, client, base: str) -> None:
    """Valid by the document (the peer's bearer token included) and signed by a key our
    JWKS publishes."""
    document = OpenAPI.from_dict(spec.document(base))
    request = WerkzeugOpenAPIRequest(Request(EnvironBuilder(
        path=received.path, base_url=base.removesuffix("/dci"), method="POST",
        data=received.raw, content_type="application/json",
        headers={"Authorization": received.headers["Authorization"]}).get_environ()))
    document.validate_request(request)
    keys = jwks.read(client.get("/dci/.well-known/jwks.json").get_json())
    body = received.body
    signing.verify(body["signature"], body["header"], body["message"],
                   lambda sender, key_id: jwks.lookup(keys, sender, key_id))


def trust(app, receiver, tmp_path, sender_id: str) -> None:
    """Our client credentials at the receiving peer, in the credentials file."""
    listed = tmp_path / "peer-credentials.json"
    listed.write_text(json.dumps(receiver.credentials(sender_id)))
    app.config["DCI_PEER_CREDENTIALS_FILE"] = str(listed)


def test_a_search_is_answered_by_an_on_search_callback_retried_until_the_peer_takes_it(
        committing_app, worker, openapi, tmp_path):
    client = committing_app.test_client()
    siti = make_citizen(full_name="Siti Rahayu")
    session().commit()
    with receiving() as peer_side:
        peer_side.failures = 1  # down for the first try
        peer = make_peer(client, callback_uri=peer_side.base)
        trust(committing_app, peer_side, tmp_path, peer.row.sender_id)
        message = {"transaction_id": "t-1", "search_request": [{
            "reference_id": "r-1", "timestamp": "2026-12-07T10:00:00Z",
            "search_criteria": {"query_type": "idtype-value", "query": {
                "type": "NationalID", "value": siti.national_number}}}]}
        ack = Checked(client, openapi).post("/registry/search",
                                            peer.envelope("search", message), peer.token)
        assert ack.status_code == 202
        [callback] = peer_side.wait_for("/dci/registry/on-search")
    check_callback(callback, client, peer_side.base)
    answer = callback.body["message"]
    assert answer["correlation_id"] == ack.get_json()["message"]["correlation_id"]
    [record] = answer["search_response"][0]["data"]["reg_records"]
    assert record["name"]["given_name"] == "Siti Rahayu"


def test_a_subscriber_is_notified_when_the_record_it_follows_changes(
        committing_app, worker, openapi, tmp_path):
    client = committing_app.test_client()
    budi = make_citizen(sex="M", full_name="Budi Santoso")
    session().commit()
    with receiving() as peer_side:
        peer = make_peer(client, callback_uri=peer_side.base)
        trust(committing_app, peer_side, tmp_path, peer.row.sender_id)
        message = {"transaction_id": "t-1", "subscribe_request": [{
            "reference_id": "r-1", "timestamp": "2026-12-07T10:00:00Z",
            "subscribe_criteria": {"reg_event_type": "REGISTER", "filter_type": "idtype-value",
                                   "filter": {"type": "NationalID",
                                              "value": budi.national_number},
                                   "notify_record_type": "Person"}}]}
        ack = Checked(client, openapi).post("/registry/subscribe",
                                            peer.envelope("subscribe", message), peer.token)
        assert ack.status_code == 202
        [subscribed] = peer_side.wait_for("/dci/registry/on-subscribe")
        assert subscribed.body["message"]["subscribe_response"][0]["status"] == "succ"
        with database().transaction() as tx:
            person = tx.get(Citizen, budi.id)
            service.update_citizen(tx, person, {"address": "Jl. Kenanga 9"},
                                   Actor("staff", "clerk"))
        [notified] = peer_side.wait_for("/dci/registry/notify")
    check_callback(subscribed, client, peer_side.base)
    check_callback(notified, client, peer_side.base)
    [event] = notified.body["message"]["notify_event"]
    assert event["data"]["reg_records"]["address"]["street_address"] == "Jl. Kenanga 9"
    assert dt.datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))


def test_a_delivered_search_keeps_its_status_but_not_its_criteria(
        committing_app, worker, openapi, tmp_path):
    client = committing_app.test_client()
    with receiving() as peer_side:
        peer = make_peer(client, callback_uri=peer_side.base)
        trust(committing_app, peer_side, tmp_path, peer.row.sender_id)
        message = {"transaction_id": "t-1", "search_request": [{
            "reference_id": "r-1", "timestamp": "2026-12-07T10:00:00Z",
            "search_criteria": {"query_type": "idtype-value", "query": {
                "type": "NationalID", "value": "3171011705900001"}}}]}
        ack = Checked(client, openapi).post("/registry/search",
                                            peer.envelope("search", message), peer.token)
        peer_side.wait_for("/dci/registry/on-search")
    txn = delivered(ack.get_json()["message"]["correlation_id"])
    assert (txn.request, txn.status, json.loads(txn.references)) == (
        "{}", "succ", {"r-1": "succ"})


def delivered(correlation_id: str) -> DciTransaction:
    """The transaction once the worker has committed its delivery (a state, waited for:
    the peer has the callback a moment before the worker commits)."""
    deadline = time.monotonic() + 60
    while True:
        with database().transaction() as tx:
            txn = tx.get(DciTransaction, correlation_id)
            if txn is not None and txn.delivered_at is not None or time.monotonic() > deadline:
                return txn
        time.sleep(0.2)
