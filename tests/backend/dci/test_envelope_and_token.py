"""The envelope's gate: the token, the signature, the header; the token route; the JWKS."""

from __future__ import annotations

import copy

from backend.dci import jwks, signing
from tests.backend.dci.conftest import BASE

SEARCH = {"transaction_id": "t-1", "search_request": [{
    "reference_id": "r-1", "timestamp": "2026-12-07T10:00:00Z",
    "search_criteria": {"query_type": "idtype-value",
                        "query": {"type": "NationalID", "value": "3171011705900001"}}}]}


def test_a_peer_gets_a_bearer_token_by_client_credentials(app, client, peer):
    assert peer.token.startswith("eyJ")


def test_a_wrong_secret_gets_no_token(app, client, peer):
    answer = client.post("/dci/oauth2/client/token", base_url=BASE, data={
        "grant_type": "client_credentials", "client_id": peer.client_id,
        "client_secret": "wrong"})
    assert answer.status_code in (400, 401)
    assert answer.get_json()["error"] == "invalid_client"


def test_a_search_without_a_token_is_refused_unauthorized(app, dci, peer):
    answer = dci.post("/registry/search", peer.envelope("search", SEARCH), None,
                      valid_request=False)  # the document requires the token
    assert answer.status_code == 401
    assert answer.get_json()["errors"][0]["code"] == "err.request.unauthorized"


def test_a_tampered_message_is_refused_as_badly_signed(app, dci, peer):
    body = peer.envelope("search", copy.deepcopy(SEARCH))
    body["message"]["search_request"][0]["reference_id"] = "r-2"
    answer = dci.post("/registry/search", body, peer.token)
    assert answer.status_code == 400
    error = answer.get_json()["message"]
    assert error["ack_status"] == "ERR"
    assert error["error"]["code"] == "err.signature.invalid"


def test_a_search_is_acknowledged_with_a_correlation_id(app, dci, peer):
    answer = dci.post("/registry/search", peer.envelope("search", SEARCH), peer.token)
    assert answer.status_code == 202
    assert answer.get_json()["message"]["ack_status"] == "ACK"


def test_the_jwks_publishes_the_key_that_signs_our_answers(app, client):
    published = client.get("/dci/.well-known/jwks.json").get_json()
    keys = jwks.read(published)
    kid = published["keys"][-1]["kid"]
    sender, key_id, alg = kid.split("|")
    assert (sender, alg) == ("satukartu", "ed25519")
    assert jwks.lookup(keys, sender, key_id) is not None
    assert signing.kid(sender, key_id) == kid


def test_a_stored_time_without_its_zone_is_stamped_as_utc_whatever_the_hosts_zone(
        monkeypatch):
    import datetime as dt
    import time

    from backend.dci.envelope import timestamp

    monkeypatch.setenv("TZ", "Asia/Jakarta")
    time.tzset()
    try:
        assert timestamp(dt.datetime(2026, 12, 7, 10, 0)) == "2026-12-07T10:00:00Z"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_a_disabled_peer_asking_with_basic_credentials_is_unauthorized(app, client, peer):
    """As a disabled terminal: RFC 6749 answers invalid_client by Basic with a 401."""
    from backend.db import session
    from backend.dci import peers

    peers.set_enabled(session(), peer.row.sender_id, False)
    session().commit()
    answer = client.post("/dci/oauth2/client/token", base_url=BASE,
                         data={"grant_type": "client_credentials"},
                         auth=(peer.client_id, peer.secret))
    assert (answer.status_code, answer.get_json()["error"]) == (401, "invalid_client")
