"""Syncing offline redemptions: each posts once, from the purse and then the programme's
offline risk, or is refused with its reason; a malformed batch writes nothing."""

from __future__ import annotations

import json

from sqlalchemy import func, select, text

from backend.cards import crl, lifecycle
from backend.db import session
from backend.ledger import postings
from backend.offline.models import OfflineRedemptionRow
from backend.testing.services import ledger_snapshot, ledger_totals
from tests.backend.offline.conftest import signed


def purse_balance(home) -> int:
    account = postings.find_account(session(), "food", "groceries",
                                    postings.Owner("household", str(home.id)))
    return postings.balance_of(session(), account)


def risk_balance() -> int:
    return postings.balance_of(session(), postings.find_account(
        session(), "food", "groceries", postings.OFFLINE_RISK))


def terminal_balance(agent) -> int:
    return postings.balance_of(session(), postings.find_account(
        session(), "food", "groceries", postings.Owner("terminal", agent.terminal_id)))


def offline_rows() -> int:
    return session().execute(select(func.count()).select_from(
        OfflineRedemptionRow.__table__)).scalar_one()


def test_a_covered_redemption_is_posted_from_the_purse_to_the_agent(
        app, agent, family, published_crl, sync):
    home, card = family(100_000)
    item = signed(card, app.config["ORIGIN"], agent.terminal_id, 1, published_crl())
    answer = sync(agent, [item])
    assert answer.status_code == 200, answer.json
    [result] = answer.json["results"]
    assert result["status"] == "posted" and result["paid"] == 25_000
    assert result["shortfall"] == 0 and result["reason"] is None
    assert purse_balance(home) == 75_000
    assert terminal_balance(agent) == 25_000
    assert ledger_totals() == {"unbalanced": 0, "negative": 0, "drift": 0}


def test_a_purse_short_pays_what_it_has_and_the_offline_risk_the_rest(
        app, agent, family, published_crl, sync):
    home, card = family(10_000)
    item = signed(card, app.config["ORIGIN"], agent.terminal_id, 1, published_crl())
    [result] = sync(agent, [item]).json["results"]
    assert (result["status"], result["paid"], result["shortfall"]) == ("shortfall", 10_000,
                                                                       15_000)
    assert purse_balance(home) == 0
    assert risk_balance() == -15_000
    assert terminal_balance(agent) == 25_000
    entry = session().execute(text(
        "SELECT kind, terminal_id, amount FROM journal_entries WHERE id = :id"),
        {"id": result["entry_id"]}).one()
    assert tuple(entry) == ("offline_spend", agent.terminal_id, 25_000)
    assert ledger_totals() == {"unbalanced": 0, "negative": 0, "drift": 0}


def test_a_purse_never_funded_leaves_it_all_to_the_offline_risk(
        app, agent, family, published_crl, sync):
    _, card = family(0)
    item = signed(card, app.config["ORIGIN"], agent.terminal_id, 1, published_crl())
    [result] = sync(agent, [item]).json["results"]
    assert (result["status"], result["paid"], result["shortfall"]) == ("shortfall", 0, 25_000)
    assert risk_balance() == -25_000


def test_the_same_key_twice_posts_once_and_answers_the_same(
        app, agent, family, published_crl, sync):
    home, card = family(100_000)
    item = signed(card, app.config["ORIGIN"], agent.terminal_id, 1, published_crl())
    first = sync(agent, [item]).json["results"]
    again = sync(agent, [item, item]).json["results"]
    assert again == first * 2
    assert purse_balance(home) == 75_000
    assert offline_rows() == 1


def test_a_key_sent_again_with_other_content_is_refused_and_posts_nothing(
        app, agent, family, published_crl, sync):
    home, card = family(100_000)
    number = published_crl()
    first = signed(card, app.config["ORIGIN"], agent.terminal_id, 1, number, key="a" * 32)
    other = signed(card, app.config["ORIGIN"], agent.terminal_id, 2, number, key="a" * 32,
                   amount=5_000)
    sync(agent, [first])
    [result] = sync(agent, [other]).json["results"]
    assert (result["status"], result["reason"]) == ("refused", "idempotency_key_reused")
    assert purse_balance(home) == 75_000


def test_a_counter_used_by_another_key_is_refused(app, agent, family, published_crl, sync):
    home, card = family(100_000)
    number = published_crl()
    sync(agent, [signed(card, app.config["ORIGIN"], agent.terminal_id, 7, number)])
    [result] = sync(agent, [signed(card, app.config["ORIGIN"], agent.terminal_id, 7,
                                   number, amount=1_000)]).json["results"]
    assert (result["status"], result["reason"]) == ("refused", "offline_counter_reused")
    assert purse_balance(home) == 75_000


def test_one_bad_item_leaves_the_others_of_its_batch_posted(
        app, agent, family, published_crl, sync, foreign_ca):
    home, card = family(100_000)
    number = published_crl()
    origin = app.config["ORIGIN"]
    batch = [signed(card, origin, agent.terminal_id, 1, number, amount=10_000),
             signed(card, origin, agent.terminal_id, 2, number, amount=10_000,
                    sign_with=card.keys["9E"]),
             signed(card, origin, agent.terminal_id, 3, number, amount=10_000)]
    results = sync(agent, batch).json["results"]
    assert [r["status"] for r in results] == ["posted", "refused", "posted"]
    assert results[1]["reason"] == "signature_invalid"
    assert purse_balance(home) == 80_000
    assert offline_rows() == 3


def test_a_refusal_is_final_for_its_key(app, agent, family, published_crl, sync):
    _, card = family(100_000)
    item = signed(card, app.config["ORIGIN"], agent.terminal_id, 1, published_crl(),
                  sign_with=card.keys["9E"])
    first = sync(agent, [item]).json["results"]
    assert sync(agent, [item]).json["results"] == first


def test_a_malformed_item_with_a_key_is_refused_alone_and_the_rest_posted(
        app, agent, family, published_crl, sync):
    _, card = family(100_000)
    number = published_crl()
    bad = signed(card, app.config["ORIGIN"], agent.terminal_id, 1, number)
    bad["redemption"]["amount"] = "lots"
    good = signed(card, app.config["ORIGIN"], agent.terminal_id, 2, number)
    answer = sync(agent, [bad, good])
    assert answer.status_code == 200, answer.json
    first, second = answer.json["results"]
    assert (first["key"], first["status"], first["reason"]) == (
        bad["redemption"]["key"], "refused", "redemption_malformed")
    assert second["status"] == "posted"
    assert sync(agent, [bad]).json["results"] == [first], "the same bytes, the same answer"


def test_an_item_with_no_readable_key_refuses_the_whole_batch_and_writes_nothing(
        app, agent, family, published_crl, sync):
    _, card = family(100_000)
    good = signed(card, app.config["ORIGIN"], agent.terminal_id, 1, published_crl())
    bad = json.loads(json.dumps(good))
    bad["redemption"]["key"] = "not-a-key"
    before, rows = ledger_snapshot(), offline_rows()
    answer = sync(agent, [good, bad])
    assert answer.status_code == 400
    assert answer.json["error"]["reason"] == "redemption_malformed"
    assert ledger_snapshot() == before and offline_rows() == rows


def test_a_body_of_the_wrong_shape_is_malformed(agent, sync):
    for body in ({"redemptions": "x"}, {"items": []}, [1], {"redemptions": [{}]},
                 {"redemptions": [{"redemption": {}, "certificate": "AA==",
                                   "signature": "AA=="}]}):
        answer = sync(agent, body)
        assert answer.status_code == 400, body
        assert answer.json["error"]["reason"] == "redemption_malformed"


def test_more_than_fifty_redemptions_are_malformed(app, agent, family, published_crl, sync):
    _, card = family(100_000)
    item = signed(card, app.config["ORIGIN"], agent.terminal_id, 1, published_crl())
    answer = sync(agent, [item] * 51)
    assert answer.status_code == 400
    assert answer.json["error"]["reason"] == "redemption_malformed"


def test_every_verdict_is_audited_with_the_cards_signature(
        app, agent, family, published_crl, sync, audit_log):
    home, card = family(10_000)
    number = published_crl()
    origin = app.config["ORIGIN"]
    batch = [signed(card, origin, agent.terminal_id, 1, number),
             signed(card, origin, agent.terminal_id, 2, number, sign_with=card.keys["9E"])]
    sync(agent, batch)
    records = audit_log(action="ledger.offline_redemption")
    assert len(records) == 2
    details = [r["details"] if isinstance(r["details"], dict) else json.loads(r["details"])
               for r in records]
    assert [d["status"] for d in details] == ["shortfall", "refused"]
    assert details[0]["signature"] == batch[0]["signature"]
    assert details[0]["shortfall"] == 15_000 and details[0]["key"] == \
        batch[0]["redemption"]["key"]
    assert details[1]["reason"] == "signature_invalid"
    assert all(r["citizen_id"] == card.citizen_id for r in records)
    assert all(len(d["signed_sha256"]) == 64 and d["certificate_sha256"] for d in details)


def test_a_card_revoked_on_its_crl_is_refused(app, agent, family, sync):
    _, card = family(100_000)
    lifecycle.revoke(session(), card.serial, "keyCompromise")
    session().commit()
    number = crl.latest(session()).number
    [result] = sync(agent, [signed(card, app.config["ORIGIN"], agent.terminal_id, 1,
                                   number)]).json["results"]
    assert result["reason"] == "card_revoked"


def test_a_card_suspended_on_its_crl_is_refused(app, agent, family, sync):
    _, card = family(100_000)
    lifecycle.suspend(session(), card.serial)
    session().commit()
    number = crl.latest(session()).number
    [result] = sync(agent, [signed(card, app.config["ORIGIN"], agent.terminal_id, 1,
                                   number)]).json["results"]
    assert result["reason"] == "card_suspended"


def test_a_card_revoked_after_its_crl_is_posted(app, agent, family, published_crl, sync):
    _, card = family(100_000)
    number = published_crl()
    lifecycle.revoke(session(), card.serial, "keyCompromise")
    session().commit()
    [result] = sync(agent, [signed(card, app.config["ORIGIN"], agent.terminal_id, 1,
                                   number)]).json["results"]
    assert result["status"] == "posted"
