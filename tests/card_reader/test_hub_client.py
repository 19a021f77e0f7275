"""The hub client against a hub that answers 503 while its database restarts."""

import pytest

from card_reader import wire
from card_reader.hub_client import UNAVAILABLE_RETRIES, HubRefusal


def test_a_challenge_answered_503_once_is_asked_again(hub, client):
    hub.unavailable = 1
    assert len(client.challenge().nonce) == 32
    assert hub.calls == [wire.PATH_CHALLENGE, wire.PATH_CHALLENGE]


def test_a_hub_that_stays_unavailable_is_refused_after_the_retries(hub, client):
    hub.unavailable = UNAVAILABLE_RETRIES + 1
    with pytest.raises(HubRefusal) as refused:
        client.challenge()
    assert (refused.value.reason, refused.value.status) == ("service_unavailable", 503)
    assert len(hub.calls) == UNAVAILABLE_RETRIES + 1


def test_every_call_sends_a_fresh_request_id_and_logs_it(hub, client, monkeypatch):
    import logging
    import re

    from card_reader import hub_client

    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    logger = logging.getLogger(hub_client.__name__)
    monkeypatch.setattr(logger, "handlers", [Keep()])
    monkeypatch.setattr(logger, "disabled", False)
    level = logger.level
    logger.setLevel(logging.INFO)  # setLevel, not setattr: it clears the level cache
    try:
        client.challenge()
        client.challenge()
    finally:
        logger.setLevel(level)
    sent = hub.request_ids
    assert len(sent) == 3  # the terminal's sign-in, then two challenges
    assert all(re.fullmatch(r"[0-9a-f]{32}", rid or "") for rid in sent)
    assert len(set(sent)) == 3
    logged = [(r.path, r.request_id) for r in seen if getattr(r, "event", "") == "hub_call"]
    assert logged == [(wire.PATH_TERMINAL_TOKEN, sent[0]), (wire.PATH_CHALLENGE, sent[1]),
                      (wire.PATH_CHALLENGE, sent[2])]


def test_a_refusal_names_the_request_id_it_came_back_to(hub, client):
    hub.unavailable = UNAVAILABLE_RETRIES + 1
    with pytest.raises(HubRefusal) as refused:
        client.challenge()
    assert refused.value.request_id == hub.request_ids[-1]
