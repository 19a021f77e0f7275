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
