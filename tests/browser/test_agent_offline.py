"""The shop's link to the hub is cut: the agent keeps serving card holders, within the
programme's offline caps, and nothing is lost or paid twice when the link returns.

The partition is the hub stopped (its gunicorn), with the agent's page already shown,
its reader daemon and its bridge up: what a shop sees when its line drops. Four card
holders redeem food credit on the screen while the hub is away, past both caps; the
screen's link state is recorded the whole time by the page itself (every change of the
bar's text); then the hub comes back and the daemon sends the queue.
"""

from __future__ import annotations

import json
import re
import sqlite3
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from backend.demo import DEMO_PIN
from card_reader.offline_wire import PATH_OFFLINE_REDEMPTIONS
from card_reader.stack import VirtualCard
from tests.browser.conftest import shoot

pytestmark = [pytest.mark.pcsc, pytest.mark.slow, pytest.mark.xdist_group("browser")]

CARD_DAILY = 100_000  # food's offline_card_daily
AGENT_DAILY = 300_000  # food's offline_agent_daily
SALE = 40_000
HOLDERS = 4


@pytest.fixture(scope="module")
def holders(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """Four heads of households with a month's food credit and no card yet, each issued a
    card now on the shop's reader (lent for it): their numbers and card state files."""
    rows = stack.sql(
        "SELECT c.national_number FROM ledger_accounts a "
        "JOIN household_members m ON a.owner_type = 'household' "
        " AND a.owner_ref = CAST(m.household_id AS TEXT) AND m.relationship = 'head' "
        "JOIN citizens c ON c.id = m.citizen_id "
        "WHERE a.programme = 'food' AND a.purse = 'groceries' AND a.balance >= ? "
        " AND c.died_on IS NULL AND c.id NOT IN (SELECT citizen_id FROM cards) "
        "ORDER BY c.id LIMIT ?", 2 * CARD_DAILY, HOLDERS)
    assert len(rows) == HOLDERS, "the synthetic city has households with food credit"
    folder = tmp_path_factory.mktemp("offline-cards")
    issued = []
    with stack._shop_reader_lent():
        for number, in rows:
            state = folder / f"{number}.json"
            card = VirtualCard(stack.pcscd, state, stack.pcscd.readers[1]).insert()
            try:
                answer = json.loads(stack.demo.satukartu(
                    "card", "issue", "--citizen", number, "--reader",
                    stack.pcscd.readers[1], "--pin", DEMO_PIN, "--json"))
            finally:
                card.remove()
            issued.append({"number": number, "serial": answer["serial"], "state": state})
    return issued


def _sign_in(page: Any, stack: Any) -> None:
    page.goto(f"{stack.origin}/agent/")
    page.fill("#username", "agent")
    page.fill("#password", stack.setup["agent_password"])
    page.click("button[type=submit].primary")
    page.wait_for_selector("#link[data-link=online]", timeout=15_000)


def _watch_the_bar(page: Any) -> None:
    """The page notes every state its bar shows, from now on, as the agent would see it."""
    page.evaluate("""() => {
      const bar = document.querySelector('#link');
      window.linkSeen = [];
      const note = () => window.linkSeen.push(
        [bar.dataset.link, Number(bar.dataset.queued || 0), bar.textContent.trim()]);
      note();
      new MutationObserver(note).observe(bar, {attributes: true, childList: true,
                                                subtree: true, characterData: true});
    }""")


def _keys(page: Any, pad: str, digits: str) -> None:
    for digit in digits:
        page.click(f'{pad} [data-digit="{digit}"]')


def _offline_sale(page: Any, card: VirtualCard, amount: int, shot: str = "") -> dict[str, str]:
    """One card holder at the shop while the link is down: the agent keys the sale, the
    card holder the PIN; what the screen answered (saved, or why not)."""
    page.wait_for_selector("#offline-sale", state="visible", timeout=10_000)
    card.insert()
    page.click("label[for=offline-programme-food-groceries]")
    page.click("label[for=offline-category-rice]")
    _keys(page, "#offline-amount-pad", str(amount))
    page.click("#offline-continue")
    page.wait_for_selector("#offline-pin", state="visible")
    _keys(page, "#offline-pin-pad", DEMO_PIN)
    page.click('#offline-pin-pad [data-key="ok"]')
    page.wait_for_selector("#offline-done:visible, #offline-problem:visible", timeout=15_000)
    if shot:
        shoot(page, shot)
    if page.is_visible("#offline-done"):
        answer = {"outcome": "saved", "counter": page.inner_text("#offline-done-counter")}
        page.click("#offline-next")
    else:
        answer = {"outcome": page.get_attribute("#offline-problem", "data-reason") or "",
                  "words": page.inner_text("#offline-problem")}
    card.remove()
    page.wait_for_selector("#offline-problem", state="hidden")  # a fresh sale for the next
    return answer


def _online_sale(page: Any, card: VirtualCard, amount: int) -> None:
    """A sale with the link up, as test_agent.py makes one, back to the idle page after."""
    card.insert()
    page.wait_for_url(re.compile(r"/agent/pin"), timeout=10_000)
    _keys(page, "#pin-pad", DEMO_PIN)
    page.click('#pin-pad [data-key="ok"]')
    page.wait_for_url(re.compile(r"/agent/sale"), timeout=10_000)
    page.click("label[for=category-rice]")
    _keys(page, "#amount-pad", str(amount))
    page.click("#pay")
    page.wait_for_url(re.compile(r"/agent/confirm"))
    page.click("#confirm")
    page.wait_for_url(re.compile(r"/agent/receipt/\d+"))
    card.remove()
    page.click(".actions a.secondary")  # "Next card holder"
    page.wait_for_url(re.compile(r"/agent/(\?.*)?$"), timeout=10_000)


def _food_balance(stack: Any, number: str) -> int:
    (balance,), = stack.sql(
        "SELECT a.balance FROM ledger_accounts a JOIN household_members m "
        " ON a.owner_type = 'household' AND a.owner_ref = CAST(m.household_id AS TEXT) "
        "JOIN citizens c ON c.id = m.citizen_id WHERE c.national_number = ? "
        " AND a.programme = 'food' AND a.purse = 'groceries'", number)
    return int(balance)


def _terminal_token(stack: Any) -> str:
    agent = stack.setup["agent"]
    asked = urllib.request.Request(
        f"{stack.origin}/api/v1/oauth/token", method="POST",
        data=urllib.parse.urlencode({"grant_type": "client_credentials",
                                     "client_id": agent["client_id"],
                                     "client_secret": agent["client_secret"]}).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(asked, timeout=10) as answer:
        return json.load(answer)["access_token"]


def _send_again(stack: Any, queue: Path) -> tuple[list[dict], list[dict]]:
    """Every redemption the shop's daemon queued, sent to the hub once more as a daemon
    that lost its results would: what the hub answers now, and what it answered then."""
    with sqlite3.connect(queue) as db:
        rows = db.execute("SELECT signed, result FROM redemptions WHERE synced = 1 "
                          "ORDER BY counter").fetchall()
    sent = urllib.request.Request(
        f"{stack.origin}{PATH_OFFLINE_REDEMPTIONS}", method="POST",
        data=json.dumps({"redemptions": [json.loads(s) for s, _ in rows]}).encode(),
        headers={"Content-Type": "application/json",
                 "Authorization": f"Bearer {_terminal_token(stack)}"})
    with urllib.request.urlopen(sent, timeout=30) as answer:
        now = json.load(answer)["results"]
    return now, [json.loads(r) for _, r in rows]


def test_a_cut_link_loses_at_most_the_caps_and_posts_each_sale_once(
        agent_page: Any, stack: Any, holders: list[dict[str, Any]]) -> None:
    page = agent_page
    cards = [VirtualCard(stack.pcscd, h["state"], stack.pcscd.readers[1]) for h in holders]
    _sign_in(page, stack)
    # The fourth household spends most of its month online first: offline, the shop
    # cannot know that, and the hub finds the shortfall when the link returns.
    _online_sale(page, cards[3], 170_000)
    left = _food_balance(stack, holders[3]["number"])
    entries_before = stack.sql("SELECT COUNT(*) FROM journal_entries "
                               "WHERE kind = 'offline_spend'")[0][0]
    _watch_the_bar(page)
    plan = [(0, "saved"), (0, "saved"), (0, "offline_card_cap_exceeded"),
            (1, "saved"), (1, "saved"), (2, "saved"), (2, "saved"),
            (3, "saved"), (3, "offline_agent_cap_exceeded")]
    answers = []
    with stack.hub_stopped():
        page.wait_for_selector("#link[data-link=offline]", timeout=15_000)
        assert "unready" not in (page.get_attribute("#link", "class") or "")
        shoot(page, "agent-offline-ready")
        queued = 0
        for holder, expected in plan:
            answer = _offline_sale(page, cards[holder], SALE, f"agent-offline-{expected}")
            answers.append(answer)
            assert answer["outcome"] == expected, (holder, answer)
            queued += expected == "saved"
            page.wait_for_selector(f"#link[data-link=offline][data-queued='{queued}']",
                                   timeout=5_000)
        shoot(page, "agent-offline-queued")
        seen_offline = page.evaluate("window.linkSeen")
    page.wait_for_selector("#link[data-link=online][data-queued='0']", timeout=60_000)
    shoot(page, "agent-offline-synced")

    # The screen said offline, with the count, from the cut to the hub's return.
    states = [state for state, _n, _text in seen_offline]
    cut = states.index("offline")
    assert set(states[cut:]) == {"offline"}, seen_offline
    counts = [n for _s, n, _t in seen_offline[cut:]]
    assert counts == sorted(counts) and counts[-1] == queued == 7
    assert all(str(n) in text for _s, n, text in seen_offline[cut:] if n), seen_offline

    rows = stack.sql("SELECT key, counter, status, amount, paid, shortfall, entry_id "
                     "FROM offline_redemptions WHERE terminal_id = ? ORDER BY counter",
                     stack.setup["agent"]["terminal_id"])
    assert len(rows) == 7 and all(r[2] in ("posted", "shortfall") for r in rows), rows
    assert len({r[1] for r in rows}) == 7 and len({r[6] for r in rows}) == 7
    shortfalls = [r for r in rows if r[2] == "shortfall"]
    assert [(r[4], r[5]) for r in shortfalls] == [(left, SALE - left)]
    loss = sum(r[5] for r in rows)
    assert loss <= CARD_DAILY and sum(r[3] for r in rows) <= AGENT_DAILY
    assert _food_balance(stack, holders[3]["number"]) == 0, "never below zero"
    entries = stack.sql("SELECT COUNT(*) FROM journal_entries WHERE kind = 'offline_spend'")
    assert entries[0][0] - entries_before == 7

    audited = {}
    for (details,) in stack.sql("SELECT details FROM audit_records "
                                "WHERE action = 'ledger.offline_redemption'"):
        found = json.loads(details)
        audited[found["key"]] = found
    for key, _counter, status, *_ in rows:
        assert audited[key]["status"] == status and audited[key]["signature"], key

    # A daemon that lost its results and sends them all again posts nothing twice.
    now, then = _send_again(stack, stack.demo.instance / "offline-agent" / "queue.sqlite3")
    assert now == then
    entries = stack.sql("SELECT COUNT(*) FROM journal_entries WHERE kind = 'offline_spend'")
    assert entries[0][0] - entries_before == 7
