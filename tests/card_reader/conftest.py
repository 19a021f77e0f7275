"""A stub hub over HTTP and a terminal's client to it, for the reader's tests."""

import pytest

from card_reader.bridge import Bridge
from card_reader.daemon import Refused
from card_reader.event_feed import EventFeed
from card_reader.hub_client import HubClient
from tests.card_reader.bridge_page import ORIGIN, Kiosk
from tests.card_reader.offline_agent import Agent, CityPki
from tests.card_reader.stub_hub import CLIENT_ID, CLIENT_SECRET, StubHub
from tests.pcsc_fixtures import issue_card


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


# --- the local bridge -----------------------------------------------------------------


@pytest.fixture
def kiosk(client, pcscd):
    running = Kiosk(client)
    yield running
    running.stop()


@pytest.fixture
def bare():
    """A bridge with no daemon behind it: its PIN login records calls and says no_card."""
    calls: list[object] = []

    def pin_login(pin):
        calls.append(pin)
        raise Refused("no_card")

    bridge = Bridge(EventFeed(), pin_login, [ORIGIN], port=0).start()
    bridge.calls = calls  # type: ignore[attr-defined]
    yield bridge
    bridge.stop()


# --- an agent's offline mode (test_offline_*.py) -------------------------------------

@pytest.fixture(scope="module")
def pki() -> CityPki:
    return CityPki.create()


@pytest.fixture
def city_card(blank_card, pki):
    """A card whose certificates the city's issuing CA (under its root) signed."""
    return issue_card(blank_card, pki.issuing)


@pytest.fixture
def agent(client, tmp_path):
    agents: list[Agent] = []

    def make(bundle=None) -> Agent:
        made = Agent(client, tmp_path / "offline", bundle)
        agents.append(made)
        return made.start()

    yield make
    for each in agents:
        each.stop()
