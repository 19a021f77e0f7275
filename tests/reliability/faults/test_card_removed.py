"""A card pulled out in the middle of a PIN-level action at an agent shop.

The reader daemon at an agent terminal opens a PIN session when the card goes in; the
shop's till then redeems food credit with that session, one basket after another, and
the citizen pulls the card out while the till is still sending. Whatever the moment,
only redemptions the hub confirmed are charged (each once), every other request is
refused because the session ended, and the session is over. A card pulled during its
own PIN authentication leaves no session open.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from sqlalchemy import text

from backend.db import make_engine
from card_reader.stack import VirtualCard, card_present
from tests.reliability.faults.invariants import ledger_problems
from tests.reliability.faults.livehub import (
    PATH_REDEEM,
    basket,
    food_household,
    init_card_ca,
    issue_virtual_card,
    reason_of,
    register_terminal,
    serve,
)
from tests.reliability.faults.reader import RunningDaemon
from tests.support.private_services import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.pcsc, pytest.mark.postgres]

PIN = "246802"
CREDIT = 10_000_000
ENDED = (401, "session_ended")


@dataclass
class Till:
    """An agent shop's till sending baskets with one card session until it is refused."""

    url: str
    token: str
    answers: list[tuple[str, int, int, str | None, int | None]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        http = requests.Session()
        amount = 1_000
        while not self.stop.is_set():
            key = f"till-{uuid.uuid4().hex}"
            amount += 7
            answer = http.post(self.url + PATH_REDEEM, json=basket(amount), timeout=30,
                               headers={"Authorization": f"Bearer {self.token}",
                                        "Idempotency-Key": key})
            entry = answer.json().get("entry_id") if answer.status_code == 200 else None
            self.answers.append((key, amount, answer.status_code, reason_of(answer), entry))
            if answer.status_code != 200:
                break
        http.close()

    def charged(self) -> int:
        return sum(1 for answer in self.answers if answer[2] == 200)


@pytest.fixture
def agent_shop(fresh_pg_url: str, tmp_path: Path, blank_card):
    """A live hub, an agent terminal, and a funded household whose head's card (PIN
    `PIN`) is in the reader."""
    hub = serve(fresh_pg_url, tmp_path / "instance")
    init_card_ca(hub.app)
    head, family = food_household(hub.app, CREDIT)
    serial = issue_virtual_card(hub.app, blank_card.reader, head, PIN)
    shop = register_terminal(hub.app, "agent")
    yield hub, shop, family, serial
    hub.close()


def _ledger(url: str, household_id: int, serial: str) -> dict[str, object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            spends = dict(conn.execute(text(
                "SELECT id, amount FROM journal_entries WHERE kind = 'spend'")).all())
            keys = set(conn.execute(text(
                "SELECT key FROM ledger_idempotency_keys")).scalars())
            balance = conn.execute(text(
                "SELECT balance FROM ledger_accounts WHERE programme = 'food' "
                "AND owner_type = 'household' AND owner_ref = :ref"),
                {"ref": str(household_id)}).scalar_one()
            open_sessions = conn.execute(text(
                "SELECT count(*) FROM card_sessions s JOIN cards c ON c.id = s.card_id "
                "WHERE c.serial = :serial AND s.ended_at IS NULL"),
                {"serial": serial}).scalar_one()
    finally:
        engine.dispose()
    return {"spends": spends, "keys": keys, "balance": balance, "open": open_sessions}


@pytest.mark.timeout(150)
def test_a_card_pulled_mid_redemption_is_charged_only_for_confirmed_baskets(
        agent_shop, blank_card, fresh_pg_url):
    hub, shop, family, serial = agent_shop
    tills: list[Till] = []
    with RunningDaemon(hub.url, shop.client_id, shop.client_secret, "agent",
                       blank_card.reader, pin=PIN) as reader:
        at = 0
        for pull_after in (1, 4, 9):  # baskets confirmed before the card comes out
            if not card_present(blank_card.reader):
                blank_card.insert()
            at, opened = reader.wait_for("session", after=at)
            assert opened["assurance"] == "pin"
            till = Till(hub.url, opened["session_token"])
            tills.append(till)
            sending = threading.Thread(target=till.run, daemon=True)
            sending.start()
            wait_until(lambda t=till, n=pull_after: t.charged() >= n, 60,
                       f"{pull_after} confirmed baskets")
            blank_card.remove()  # while the till is sending the next basket
            at, _ = reader.wait_for("session_ended", after=at)
            sending.join(30)
            till.stop.set()
            assert hub.session_state(opened["session_token"]) == ENDED

    answers = [answer for till in tills for answer in till.answers]
    for till in tills:  # the till went on until the hub said the session had ended
        *confirmed, (_, _, status, reason, _) = till.answers
        assert (status, reason) == ENDED
        assert {a[2] for a in confirmed} == {200}
    ledger = _ledger(fresh_pg_url, family.id, serial)
    confirmed = {entry: amount for _, amount, status, _, entry in answers if status == 200}
    assert ledger["spends"] == confirmed
    assert ledger["balance"] == CREDIT - sum(confirmed.values())
    refused_keys = {key for key, _, status, _, _ in answers if status != 200}
    assert ledger["keys"] & refused_keys == set()
    assert ledger["open"] == 0
    assert ledger_problems(fresh_pg_url) == {}


@pytest.mark.timeout(150)
@pytest.mark.parametrize("pull_after", [0.0, 0.05])
def test_a_card_pulled_during_its_pin_authentication_leaves_no_session_open(
        agent_shop, blank_card, fresh_pg_url, pull_after):
    hub, shop, family, serial = agent_shop
    blank_card.remove()
    # the same card, answering with a real card's timing (~80 ms to verify and sign)
    slow = VirtualCard(blank_card.pcscd, blank_card.state_path, blank_card.reader, "real")
    with RunningDaemon(hub.url, shop.client_id, shop.client_secret, "agent",
                       blank_card.reader, pin=PIN) as reader:
        slow.insert(wait=True)
        threading.Event().wait(pull_after)
        slow.remove()
        wait_until(lambda: any(e["event"] in ("refused", "session_ended")
                               for e in reader.events), 30, "the daemon to settle")
    # what happened to the card's session (the card's own coming and going aside)
    settled = [e for e in reader.events if e["event"] not in ("inserted", "removed")]
    outcome = [e["event"] for e in settled]
    assert outcome in (["refused"], ["session", "session_ended"]), reader.events
    if outcome == ["refused"]:
        assert settled[0]["refused"] == "card_removed", reader.events
    ledger = _ledger(fresh_pg_url, family.id, serial)
    assert (ledger["open"], ledger["spends"], ledger["balance"]) == (0, {}, CREDIT)
    print(f"pulled {pull_after * 1000:.0f} ms after insertion: {outcome}")
