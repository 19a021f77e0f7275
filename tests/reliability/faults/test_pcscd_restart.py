"""pcscd SIGKILLed and restarted while a card is in the reader and its session is open.

The reader daemon runs against a live hub with a card issued by the hub's CA in the
virtual reader. When pcscd dies the daemon must end the session it can no longer
vouch for (the hub then refuses the old token as ended), find the restarted pcscd by
itself, serve the card still in the reader, and open a new session for the next tap.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.testing.registry import make_citizen
from tests.reliability.faults.livehub import (
    init_card_ca,
    issue_virtual_card,
    register_terminal,
    serve,
)
from tests.reliability.faults.reader import RunningDaemon

pytestmark = [pytest.mark.slow, pytest.mark.pcsc, pytest.mark.postgres]

PIN = "135790"
ENDED = (401, "session_ended")
OPEN = (200, None)


@pytest.fixture
def kiosk_hub(fresh_pg_url: str, tmp_path: Path):
    hub = serve(fresh_pg_url, tmp_path / "instance")
    init_card_ca(hub.app)
    yield hub
    hub.close()


@pytest.mark.timeout(120)
def test_the_daemon_ends_the_stale_session_after_pcscd_dies_and_the_next_tap_works(
        kiosk_hub, blank_card, pcscd):
    with kiosk_hub.app.app_context():
        holder = make_citizen(full_name="Dewi Lestari")
    serial = issue_virtual_card(kiosk_hub.app, blank_card.reader, holder, PIN)
    kiosk = register_terminal(kiosk_hub.app, "kiosk")
    with RunningDaemon(kiosk_hub.url, kiosk.client_id, kiosk.client_secret, "kiosk",
                       blank_card.reader) as reader:
        at, first = reader.wait_for("session")
        assert first["card_serial"] == serial
        assert kiosk_hub.session_state(first["session_token"]) == OPEN

        pcscd.restart()  # SIGKILL, then a new pcscd on the same socket and vpcd ports

        at, ended = reader.wait_for("session_ended", after=at)
        assert ended["card_serial"] == serial
        at, again = reader.wait_for("session", after=at, timeout=60)
        assert kiosk_hub.session_state(first["session_token"]) == ENDED
        assert again["card_serial"] == serial
        assert kiosk_hub.session_state(again["session_token"]) == OPEN

        blank_card.remove()  # the citizen takes the card, and taps it again
        at, _ = reader.wait_for("session_ended", after=at)
        blank_card.insert()
        at, tap = reader.wait_for("session", after=at)
        assert kiosk_hub.session_state(again["session_token"]) == ENDED
        assert (tap["card_serial"], tap["assurance"]) == (serial, "tap")
        assert kiosk_hub.session_state(tap["session_token"]) == OPEN
    assert [e["event"] for e in reader.events if e["event"] == "refused"] == []
