"""What the gate refuses, in the standard's error shapes, and nothing malformed 500s."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from backend.db import session
from backend.dci.models import DciSubscription
from backend.identity import tokens
from backend.identity.resolver import EXTENSION
from backend.testing.registry import make_citizen
from tests.backend.dci.conftest import make_peer
from tests.backend.dci.test_sync import by_nik


def expired_token(app, peer) -> str:
    key = app.extensions[EXTENSION].key
    return tokens.issue(key, kind="peer", subject=peer.row.sender_id,
                        account_id=peer.row.sender_id, role="dci", generation=0, ttl=60,
                        now=time.time() - 3600).token


def test_an_expired_token_is_refused_unauthorized(app, dci, peer):
    answer = dci.post("/registry/sync/search", peer.envelope("search", by_nik("1")),
                      expired_token(app, peer))
    assert answer.status_code == 401
    assert answer.get_json()["errors"][0]["code"] == "err.request.unauthorized"


def test_a_terminals_token_is_no_peers(app, dci, peer, terminal):
    answer = dci.post("/registry/sync/search", peer.envelope("search", by_nik("1")),
                      terminal("counter").token)
    assert answer.status_code == 401


def test_a_peers_token_opens_nothing_under_the_api(app, client, peer):
    """Where a terminal's token is taken on its claims alone (the card-session token,
    whose view reads the terminal's row itself), a peer's is still no terminal's."""
    answer = client.post("/api/v1/auth/token", json={},
                         headers={"Authorization": f"Bearer {peer.token}"})
    assert answer.status_code == 401
    assert answer.get_json()["error"]["reason"] == "token_invalid"


def test_a_message_sent_in_another_peers_name_is_refused(app, client, dci, peer):
    other = make_peer(client, sender_id="other-registry")
    body = other.envelope("search", by_nik("1"))
    answer = dci.post("/registry/sync/search", body, peer.token)
    assert answer.status_code == 403
    assert answer.get_json()["errors"][0]["code"] == "err.sender_id.invalid"


def test_an_unsigned_message_is_refused_as_unsigned(app, dci, peer):
    body = peer.envelope("search", by_nik("1"))
    del body["signature"]
    answer = dci.post("/registry/search", body, peer.token)
    assert answer.get_json()["message"]["error"]["code"] == "err.signature.missing"


def test_a_sync_search_refused_answers_a_rejecting_header(app, dci, peer):
    body = peer.envelope("search", by_nik("1"))
    body["message"]["transaction_id"] = "changed after signing"
    answer = dci.post("/registry/sync/search", body, peer.token)
    header = answer.get_json()["header"]
    assert (header["action"], header["status"]) == ("on-search", "rjct")
    assert header["status_reason_message"].startswith("err.signature.invalid")


def test_a_message_id_sent_twice_is_taken_once(app, dci, peer):
    body = peer.envelope("search", by_nik("1"))
    assert dci.post("/registry/search", body, peer.token).status_code == 202
    again = dci.post("/registry/search", body, peer.token)
    assert again.status_code == 409
    assert again.get_json()["message"]["ack_status"] == "ERR"


def test_a_callback_uri_outside_the_peers_own_is_refused(app, dci, peer):
    body = peer.envelope("search", by_nik("1"), sender_uri="https://elsewhere.test/dci")
    answer = dci.post("/registry/search", body, peer.token)
    assert answer.get_json()["message"]["error"]["code"] == "err.sender_uri.invalid"


def test_an_encrypted_message_is_refused_as_unsupported(app, dci, peer):
    body = peer.envelope("search", by_nik("1"), is_msg_encrypted=True)
    answer = dci.post("/registry/search", body, peer.token)
    assert answer.get_json()["message"]["error"]["code"] == "err.encryption.invalid"


@pytest.mark.parametrize("body", [
    None, [], "text", {"header": []}, {"header": {}, "message": {}},
    {"signature": 5, "header": {"action": "search"}, "message": {}},
])
def test_malformed_envelopes_are_refused_as_bad_requests(app, dci, peer, body):
    answer = dci.post("/registry/search", body, peer.token, valid_request=False)
    assert 400 <= answer.status_code < 500
    assert answer.get_json()["message"]["ack_status"] == "ERR"


def test_a_subscription_ends_when_unsubscribed(app, dci, peer):
    nik = make_citizen().national_number
    subscribe = {"transaction_id": "t-1", "subscribe_request": [{
        "reference_id": "r-1", "timestamp": "2026-12-07T10:00:00Z",
        "subscribe_criteria": {"reg_event_type": "REGISTER", "filter_type": "idtype-value",
                               "filter": {"type": "NationalID", "value": nik},
                               "notify_record_type": "Person"}}]}
    assert dci.post("/registry/subscribe", peer.envelope("subscribe", subscribe),
                    peer.token).status_code == 202
    code = session().execute(select(DciSubscription.code)).scalar_one()
    message = {"transaction_id": "t-2", "timestamp": "2026-12-07T10:00:00Z",
               "subscription_codes": [code]}
    assert dci.post("/registry/unsubscribe", peer.envelope("unsubscribe", message),
                    peer.token).status_code == 202
    assert session().get(DciSubscription, code).status == "unsubscribe"


def test_a_callback_from_a_peer_is_acknowledged(app, dci, peer):
    message = {"transaction_id": "t-1", "correlation_id": "c-1", "search_response": [
        {"reference_id": "r-1", "timestamp": "2026-12-07T10:00:00Z", "status": "succ"}]}
    body = peer.envelope("on-search", message)
    body["header"]["status"] = "succ"
    body["signature"] = peer.sign(body["header"], message)
    answer = dci.post("/registry/on-search", body, peer.token)
    assert answer.status_code == 200
    assert answer.get_json()["message"] == {**answer.get_json()["message"],
                                            "ack_status": "ACK", "correlation_id": "c-1"}


def test_after_a_peer_replaces_its_keys_the_old_key_no_longer_verifies(app, dci, peer):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from backend.dci import jwks, peers

    new_key = Ed25519PrivateKey.generate()
    peers.set_keys(session(), peer.row.sender_id, json.dumps(
        {"keys": [jwks.public_jwk(new_key.public_key(), "k2")]}))
    session().commit()
    answer = dci.post("/registry/search", peer.envelope("search", by_nik("1")), peer.token)
    assert answer.get_json()["message"]["error"]["code"] == "err.signature.invalid"


def test_disabling_a_peer_ends_its_token(app, dci, peer):
    from backend.dci import peers

    peers.set_enabled(session(), peer.row.sender_id, False)
    session().commit()
    answer = dci.post("/registry/sync/search", peer.envelope("search", by_nik("1")),
                      peer.token)
    assert answer.status_code == 401


def test_a_sync_search_of_too_many_requests_is_refused_by_its_header(app, dci, peer):
    answer = dci.post("/registry/sync/search",
                      peer.envelope("search", by_nik("1"), total_count=51), peer.token)
    assert answer.get_json()["header"]["status_reason_code"] == "rjct.total_count.limit_exceeded"


def test_the_same_callback_twice_is_refused_the_second_time(app, dci, peer):
    message = {"transaction_id": "t-1", "correlation_id": "c-1", "search_response": [
        {"reference_id": "r-1", "timestamp": "2026-12-07T10:00:00Z", "status": "succ"}]}
    body = peer.envelope("on-search", message)
    body["header"]["status"] = "succ"
    body["signature"] = peer.sign(body["header"], message)
    assert dci.post("/registry/on-search", body, peer.token).status_code == 200
    again = dci.post("/registry/on-search", body, peer.token)
    assert again.status_code == 409
    assert again.get_json()["message"]["error"]["code"] == "err.request.bad"


@pytest.mark.postgres
def test_two_copies_of_a_message_racing_past_the_check_get_the_standards_refusal(
        committing_app):
    """The second copy's insert waits on the first's uncommitted row (a state we wait
    for in pg_locks), then meets the unique index: a 409 in the standard's shape."""
    import threading

    from sqlalchemy import create_engine, text

    from backend.tasks import celery_init_app

    committing_app.config.update(BROKER_URL="memory://", RESULT_BACKEND="cache+memory://")
    celery_init_app(committing_app)
    client = committing_app.test_client()
    peer = make_peer(client)
    body = peer.envelope("search", by_nik("3171011705900001"))
    engine = create_engine(str(committing_app.config["DATABASE_URL"]))
    answers = []
    try:
        with engine.connect() as first, engine.connect() as watcher:
            first.execute(text(
                "INSERT INTO dci_transactions (correlation_id, peer_id, message_id, "
                "transaction_id, action, status, \"references\", request) VALUES "
                "('first', :peer, :message, 't-1', 'search', 'pdng', '{}', '{}')"),
                {"peer": peer.row.sender_id, "message": body["header"]["message_id"]})
            second = threading.Thread(target=lambda: answers.append(client.post(
                "/dci/registry/search", base_url="https://hub.test", json=body,
                headers={"Authorization": f"Bearer {peer.token}"})))
            second.start()
            for _ in range(600):
                if watcher.execute(text("SELECT count(*) FROM pg_locks WHERE NOT granted")
                                   ).scalar_one():
                    break
                second.join(0.1)
            first.commit()
            second.join(60)
    finally:
        engine.dispose()
    [answer] = answers
    assert answer.status_code == 409
    assert answer.get_json()["message"]["error"]["code"] == "err.request.bad"


def test_a_value_the_database_cannot_hold_is_refused_in_the_standards_shape(app, dci, peer):
    if not str(app.config["DATABASE_URL"]).startswith("postgresql"):
        pytest.skip("SQLite holds a NUL byte; PostgreSQL cannot")
    message = {"transaction_id": "t-1", "timestamp": "2026-12-07T10:00:00Z",
               "subscription_codes": ["a\x00b"]}
    answer = dci.post("/registry/unsubscribe", peer.envelope("unsubscribe", message),
                      peer.token)
    assert answer.status_code == 400
    assert answer.get_json()["message"]["error"]["code"] == "err.request.bad"
