"""1,000 concurrent redemption attempts against 100 households on PostgreSQL.

Real card sessions at ten agent shops, real commits from many connections: no balance
goes below zero, nothing is spent twice, the ledger sums to zero, and each successful
redemption is in the audit log exactly once. Every attempt is also sent a second time
with the same Idempotency-Key, at the same moment, so retries race their originals.
"""

import json
import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select, text

from backend.audit.models import AuditRecord
from backend.audit.sequencer import settle
from backend.cards import ca as ca_module
from backend.cards.context import state
from backend.db import database
from backend.ledger import checks
from backend.ledger.models import Account, JournalEntry
from backend.reasons import Reason
from backend.testing.cards import KEY_BY_ASSURANCE, authenticate, make_soft_card, record_soft_card
from backend.testing.identity import make_terminal
from backend.testing.registry import make_citizen, make_household
from backend.testing.services import fund_account

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

HOUSEHOLDS, ATTEMPTS_EACH, SHOPS = 100, 10, 10
CREDIT, PRICE = 100_000, 15_000  # six baskets fit in each credit, four do not
BASKET = {"items": [{"name": "Beras 5 kg", "category": "rice", "quantity": 1,
                     "unit_price": PRICE}], "amount": PRICE}


@pytest.fixture
def shoppers(committing_app):
    """(session token, household id) of 100 funded households, each card with its PIN
    at one of ten agent shops."""
    app = committing_app
    issuing = ca_module.init_ca(app.config["CA_DIR"], "Kota Uji")
    state(app).reload()
    shops = [make_terminal(app, "agent") for _ in range(SHOPS)]
    client = app.test_client()
    made = []
    for n in range(HOUSEHOLDS):
        head = make_citizen(full_name=f"Warga {n}")
        home = make_household(head=head, welfare_decile=1)
        fund_account("food", "groceries", home, CREDIT)
        card = make_soft_card(issuing, head.national_number, head.id)
        record_soft_card(card)
        answer = authenticate(client, shops[n % SHOPS].token, card, app.config["ORIGIN"],
                              KEY_BY_ASSURANCE["pin"])
        assert answer.status_code == 200, answer.json
        made.append((answer.json["session_token"], home.id))
    return made


def attempt(app, token, key):
    answer = app.test_client().post("/api/v1/services/food/redeem", json=BASKET, headers={
        "Authorization": f"Bearer {token}", "Idempotency-Key": key})
    return key, answer.status_code, answer.get_json()


def test_concurrent_redemptions_never_overspend_and_are_audited_once(committing_app,
                                                                     shoppers):
    app = committing_app
    attempts = [(token, f"basket-{home}-{n:02d}") for token, home in shoppers
                for n in range(ATTEMPTS_EACH)]
    sent = attempts * 2
    random.Random(5).shuffle(sent)
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda job: attempt(app, *job), sent))

    by_key: dict[str, list] = {}
    for key, status, body in answers:
        by_key.setdefault(key, []).append((status, body))
    statuses = Counter(status for _, status, _ in answers)
    assert set(statuses) <= {200, 409}, statuses
    assert all(body["error"]["reason"] == Reason.INSUFFICIENT_BALANCE
               for _, status, body in answers if status == 409)
    assert all(first == again for first, again in by_key.values())  # a retry = its original
    spent = {body["entry_id"] for first, _ in by_key.values() for status, body in [first]
             if status == 200}
    assert len(spent) == HOUSEHOLDS * (CREDIT // PRICE)

    settle(database().engine)  # the audit records as the hub's readers see them
    with database().engine.connect() as db:
        assert db.execute(text("SELECT count(*) FROM ledger_accounts WHERE balance < 0 "
                               "AND NOT allow_negative")).scalar() == 0
        balances = db.execute(select(Account.balance).where(
            Account.owner_type == "household")).scalars().all()
        assert balances == [CREDIT % PRICE] * HOUSEHOLDS
        journal = set(db.execute(select(JournalEntry.id).where(
            JournalEntry.kind == "spend")).scalars())
        assert journal == spent
        audited = [json.loads(details)["entry_id"] for details in db.execute(
            select(AuditRecord.details).where(AuditRecord.action == "service.food.redeem",
                                              AuditRecord.outcome == "ok")).scalars()]
        assert sorted(audited) == sorted(spent)
    with database().transaction() as sess:
        assert not any(checks.findings(sess).values())
        assert checks.totals(sess)["total"] == 0
