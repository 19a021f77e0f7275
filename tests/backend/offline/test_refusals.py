"""Each reason a synced offline redemption is refused for, one test each."""

from __future__ import annotations

import datetime as dt

from backend.db import session
from backend.ledger import postings
from tests.backend.offline.conftest import now_seconds, signed


def refusal(sync, agent, item) -> str:
    answer = sync(agent, [item])
    assert answer.status_code == 200, answer.json
    [result] = answer.json["results"]
    assert result["status"] == "refused" and result["paid"] == result["shortfall"] == 0
    assert result["entry_id"] is None
    return result["reason"]


def test_signed_for_another_terminal(app, agent, family, published_crl, sync):
    _, card = family()
    item = signed(card, app.config["ORIGIN"], "another-terminal", 1, published_crl())
    assert refusal(sync, agent, item) == "terminal_mismatch"


def test_a_purse_not_redeemed_offline(app, agent, family, published_crl, sync):
    _, card = family()
    item = signed(card, app.config["ORIGIN"], agent.terminal_id, 1, published_crl(),
                  programme="education", purse="stipend", category=None)
    assert refusal(sync, agent, item) == "offline_not_allowed"


def test_a_category_the_purse_does_not_buy(app, agent, family, published_crl, sync):
    _, card = family()
    item = signed(card, app.config["ORIGIN"], agent.terminal_id, 1, published_crl(),
                  category="cigarettes")
    assert refusal(sync, agent, item) == "offline_not_allowed"


def test_more_than_one_redemption_may_be(app, agent, family, published_crl, sync):
    _, card = family()
    item = signed(card, app.config["ORIGIN"], agent.terminal_id, 1, published_crl(),
                  amount=100_001)
    assert refusal(sync, agent, item) == "amount_above_cap"


def test_a_card_from_a_ca_the_hub_does_not_trust(app, agent, family, published_crl, sync,
                                                 soft_card, citizen, foreign_ca):
    card = soft_card(citizen(), record=False, ca=foreign_ca)
    item = signed(card, app.config["ORIGIN"], agent.terminal_id, 1, published_crl())
    assert refusal(sync, agent, item) == "certificate_untrusted"


def test_a_certificate_expired_when_redeemed(app, agent, published_crl, sync, soft_card,
                                            citizen):
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
    card = soft_card(citizen(), not_before=start,
                     not_after=start + dt.timedelta(days=5))
    item = signed(card, app.config["ORIGIN"], agent.terminal_id, 1, published_crl())
    assert refusal(sync, agent, item) == "certificate_expired"


def test_a_card_the_hub_never_issued(app, agent, published_crl, sync, soft_card, citizen):
    card = soft_card(citizen(), record=False)
    item = signed(card, app.config["ORIGIN"], agent.terminal_id, 1, published_crl())
    assert refusal(sync, agent, item) == "card_unknown"


def test_a_signature_by_another_key(app, agent, family, published_crl, sync):
    _, card = family()
    item = signed(card, app.config["ORIGIN"], agent.terminal_id, 1, published_crl(),
                  sign_with=card.keys["9E"])
    assert refusal(sync, agent, item) == "signature_invalid"


def test_a_signature_for_another_origin(app, agent, family, published_crl, sync):
    _, card = family()
    item = signed(card, "https://other-city.example", agent.terminal_id, 1, published_crl())
    assert refusal(sync, agent, item) == "signature_invalid"


def test_redeemed_in_the_future(app, agent, family, published_crl, sync):
    _, card = family()
    item = signed(card, app.config["ORIGIN"], agent.terminal_id, 1, published_crl(),
                  redeemed_at=now_seconds() + dt.timedelta(minutes=6))
    assert refusal(sync, agent, item) == "offline_crl_stale"


def test_a_crl_the_hub_never_published(app, agent, family, published_crl, sync):
    _, card = family()
    item = signed(card, app.config["ORIGIN"], agent.terminal_id, 1, published_crl() + 40)
    assert refusal(sync, agent, item) == "offline_crl_stale"


def test_redeemed_past_the_crls_next_update_and_grace(app, agent, family, published_crl,
                                                      sync):
    _, card = family()
    old = published_crl(dt.datetime.now(dt.UTC) - dt.timedelta(hours=49))
    item = signed(card, app.config["ORIGIN"], agent.terminal_id, 1, old)
    assert refusal(sync, agent, item) == "offline_crl_stale"


def test_redeemed_within_the_grace_is_accepted(app, agent, family, published_crl, sync):
    _, card = family()
    old = published_crl(dt.datetime.now(dt.UTC) - dt.timedelta(hours=47))
    item = signed(card, app.config["ORIGIN"], agent.terminal_id, 1, old)
    assert sync(agent, [item]).json["results"][0]["status"] == "posted"


def test_redeemed_before_its_crl(app, agent, family, published_crl, sync):
    _, card = family()
    later = published_crl(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10))
    item = signed(card, app.config["ORIGIN"], agent.terminal_id, 1, later)
    assert refusal(sync, agent, item) == "offline_crl_stale"


def test_the_cards_offline_day_cap(app, agent, family, published_crl, sync):
    _, card = family(500_000)
    number, origin = published_crl(), app.config["ORIGIN"]
    batch = [signed(card, origin, agent.terminal_id, n, number, amount=40_000)
             for n in (1, 2, 3)]
    results = sync(agent, batch).json["results"]
    assert [r["status"] for r in results] == ["posted", "posted", "refused"]
    assert results[2]["reason"] == "offline_card_cap_exceeded"


def test_the_agents_offline_day_cap(app, agent, family, published_crl, sync):
    number, origin = published_crl(), app.config["ORIGIN"]
    cards = [family(500_000)[1] for _ in range(4)]
    batch = [signed(card, origin, agent.terminal_id, n, number, amount=100_000)
             for n, card in enumerate(cards, start=1)]
    results = sync(agent, batch).json["results"]
    assert [r["status"] for r in results] == ["posted"] * 3 + ["refused"]
    assert results[3]["reason"] == "offline_agent_cap_exceeded"


def test_a_refused_redemption_moves_no_money(app, agent, family, published_crl, sync):
    home, card = family(50_000)
    item = signed(card, app.config["ORIGIN"], agent.terminal_id, 1, published_crl(),
                  sign_with=card.keys["9E"])
    refusal(sync, agent, item)
    account = postings.find_account(session(), "food", "groceries",
                                    postings.Owner("household", str(home.id)))
    assert postings.balance_of(session(), account) == 50_000
