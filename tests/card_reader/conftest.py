"""A stub hub over HTTP and a terminal's client to it, for the reader's tests."""

import pytest

from card_reader.hub_client import HubClient
from tests.card_reader.stub_hub import CLIENT_ID, CLIENT_SECRET, StubHub


@pytest.fixture
def hub():
    stub = StubHub()
    yield stub
    stub.close()


@pytest.fixture
def client(hub):
    c = HubClient(hub.url, CLIENT_ID, CLIENT_SECRET, scope="kiosk", timeout=3)
    yield c
    c.close()
