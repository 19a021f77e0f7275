"""The callback task run by `.run` against a peer's real HTTP receiver: what it does
when the peer is disabled, down for good, or the search cannot be answered, and that
the reads it shows are on record before it posts."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from backend.audit.models import AuditRecord
from backend.audit.record import READ_ACTION
from backend.db import session
from backend.dci import outbox, peers
from backend.dci.models import DciTransaction
from backend.dci.outbox import DeliveryFailed
from backend.dci.tasks import MAX_RETRIES, send_callback
from backend.testing.registry import make_citizen
from tests.backend.dci.conftest import make_peer
from tests.backend.dci.receiver import receiving
from tests.backend.dci.test_sync import by_nik


@pytest.fixture
def peer_side(app, client, memory_queue, tmp_path):
    with receiving() as side:
        side.peer = make_peer(client, callback_uri=side.base)
        listed = tmp_path / "peer-credentials.json"
        listed.write_text(json.dumps(side.credentials(side.peer.row.sender_id)))
        app.config["DCI_PEER_CREDENTIALS_FILE"] = str(listed)
        yield side


def searched(dci, peer, nik: str) -> str:
    """A search request taken (its callback queued, not sent); its correlation id."""
    answer = dci.post("/registry/search", peer.envelope("search", by_nik(nik)), peer.token)
    assert answer.status_code == 202, answer.get_json()
    return answer.get_json()["message"]["correlation_id"]


def row(correlation_id: str) -> DciTransaction:
    session().expire_all()
    found = session().get(DciTransaction, correlation_id)
    assert found is not None
    return found


def test_a_disabled_peer_gets_no_callback_and_its_search_is_dropped(app, dci, peer_side):
    siti = make_citizen()
    correlation_id = searched(dci, peer_side.peer, siti.national_number)
    peers.set_enabled(session(), peer_side.peer.row.sender_id, False)
    session().commit()
    assert send_callback.run(correlation_id) == "peer disabled"
    assert peer_side.got == []
    assert (row(correlation_id).status, row(correlation_id).request) == ("rjct", "{}")


def test_the_reads_a_callback_shows_are_on_record_even_when_its_post_fails(
        app, dci, peer_side):
    siti = make_citizen()
    correlation_id = searched(dci, peer_side.peer, siti.national_number)
    peer_side.failures = 1
    with pytest.raises(DeliveryFailed):
        send_callback.run(correlation_id)
    session().expire_all()
    reads = session().scalars(select(AuditRecord).where(
        AuditRecord.action == READ_ACTION,
        AuditRecord.subject_id == str(siti.id))).all()
    assert len(reads) == 1


def test_a_callback_out_of_retries_rejects_its_search_and_drops_the_criteria(
        app, dci, peer_side):
    siti = make_citizen()
    correlation_id = searched(dci, peer_side.peer, siti.national_number)
    peer_side.failures = 1
    send_callback.push_request(retries=MAX_RETRIES)
    try:
        assert send_callback.run(correlation_id) == "given up"
    finally:
        send_callback.pop_request()
    found = row(correlation_id)
    assert (found.status, found.request, json.loads(found.references)) == (
        "rjct", "{}", {"r-1": "rjct"})


def test_a_search_that_cannot_be_answered_is_called_back_rejected(app, dci, peer_side):
    correlation_id = searched(dci, peer_side.peer, "3171011705900001")
    row(correlation_id).request = json.dumps(["not", "a", "search"])
    session().commit()
    assert send_callback.run(correlation_id) == "sent"
    [callback] = peer_side.wait_for("/dci/registry/on-search")
    assert callback.body["header"]["status"] == "rjct"
    assert row(correlation_id).request == "{}"


def test_a_401_from_one_peer_keeps_the_token_held_for_another(app, client, tmp_path,
                                                              memory_queue):
    with receiving() as first, receiving() as second:
        listed = tmp_path / "peer-credentials.json"
        listed.write_text(json.dumps({**first.credentials("first"),
                                      **second.credentials("second")}))
        app.config["DCI_PEER_CREDENTIALS_FILE"] = str(listed)
        outbox.deliver(app.config, "second", second.base + "/x", {"a": 1})
        first.refusals = 1
        with pytest.raises(DeliveryFailed):
            outbox.deliver(app.config, "first", first.base + "/x", {"a": 1})
        outbox.deliver(app.config, "second", second.base + "/x", {"a": 2})
        assert second.tokens_issued == 1
