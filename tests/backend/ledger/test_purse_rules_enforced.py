"""The ledger enforces the city's purse rules on every debit: daily and monthly caps
per holder, and which categories of agent shop may redeem a purse.

The rules come from a city's services file laid over the default (food's groceries
capped per day and redeemed only at e-warong or koperasi shops; the elderly
allowance capped per month), through the real API, on SQLite and PostgreSQL.
"""

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, text

from backend.cards import ca as ca_module
from backend.cards.context import state
from backend.db import database, session
from backend.documents.models import IssuedDocument
from backend.ledger import postings
from backend.reasons import Reason
from backend.testing.cards import KEY_BY_ASSURANCE, authenticate, make_soft_card, record_soft_card
from backend.testing.identity import make_terminal
from backend.testing.registry import make_citizen, make_household
from backend.testing.services import fund_account, ledger_snapshot

CITY_RULES = """
[food.purses.groceries]
daily_cap = 30000
agent_categories = ["e-warong", "koperasi"]

[elderly.purses.allowance]
monthly_cap = 100000
"""


def basket(amount: int) -> dict:
    return {"items": [{"name": "Beras", "category": "rice", "quantity": 1,
                       "unit_price": amount}], "amount": amount}


@pytest.fixture
def city_rules(tmp_path, monkeypatch):
    """The city's services file, read when the hub starts."""
    path = tmp_path / "city-services.toml"
    path.write_text(CITY_RULES)
    monkeypatch.setenv("SATUKARTU_SERVICES_FILE", str(path))


@pytest.fixture
def app(city_rules, app):
    """The hub, started with the city's rules."""
    return app


@pytest.fixture
def shop(app):
    """An agent terminal of an allowed category (e-warong)."""
    return make_terminal(app, "agent", category="e-warong")


@pytest.fixture
def family(citizen, household, fund):
    """A poor household's head, with 100,000 of food credit and of elderly allowance."""
    head = citizen(birth_date=dt.date(1950, 1, 1))
    home = household(head=head, welfare_decile=1)
    fund("food", "groceries", home, 100_000)
    fund("elderly", "allowance", head, 200_000)
    return head


@pytest.fixture
def redeem(card_session_at, call_service, shop):
    def at(holder, amount, where=None):
        token = card_session_at(holder, where or shop)
        return call_service(token, "food", "redeem", basket(amount))

    return at


@pytest.fixture
def withdraw(card_session, call_service):
    def cash(holder, amount):
        token = card_session(holder, "pin", "counter")
        return call_service(token, "elderly", "withdraw", {"amount": amount})

    return cash


def refused(answer, reason, status=409):
    assert answer.status_code == status, answer.json
    assert answer.json["error"]["reason"] == reason
    return answer.json["error"]["details"]


def test_the_daily_cap_allows_spending_up_to_it(family, redeem):
    assert redeem(family, 20_000).status_code == 200
    last = redeem(family, 10_000)
    assert last.status_code == 200, last.json
    assert last.json["balance_after"] == 70_000


def test_the_daily_cap_refuses_the_debit_that_would_pass_it(family, redeem):
    assert redeem(family, 20_000).status_code == 200
    details = refused(redeem(family, 10_001), Reason.DAILY_CAP_EXCEEDED)
    assert details == {"cap": 30_000, "spent": 20_000, "amount": 10_001}


def test_the_monthly_cap_allows_spending_up_to_it(family, withdraw):
    assert withdraw(family, 60_000).status_code == 200
    last = withdraw(family, 40_000)
    assert last.status_code == 200, last.json
    assert last.json["balance_after"] == 100_000


def test_the_monthly_cap_refuses_the_debit_that_would_pass_it(family, withdraw):
    assert withdraw(family, 60_000).status_code == 200
    details = refused(withdraw(family, 40_001), Reason.MONTHLY_CAP_EXCEEDED)
    assert details == {"cap": 100_000, "spent": 60_000, "amount": 40_001}


def test_a_cap_counts_only_its_own_purse_and_holder(family, redeem, withdraw, citizen,
                                                    household, fund):
    neighbour = citizen()
    fund("food", "groceries", household(head=neighbour, welfare_decile=1), 100_000)
    assert redeem(family, 30_000).status_code == 200  # the family's daily food cap reached
    refused(redeem(family, 1), Reason.DAILY_CAP_EXCEEDED)
    assert redeem(neighbour, 30_000).status_code == 200  # another household's is not
    assert withdraw(family, 100_000).status_code == 200  # nor the family's allowance's


def test_ledger_expiry_is_not_spending(family, redeem):
    """Lapsed credit leaves the account as a debit the ledger writes; no cap counts it."""
    account = session().execute(text(
        "SELECT id FROM ledger_accounts WHERE programme = 'food' AND owner_type = 'household'"
    )).scalar_one()
    expired = postings.open_account(session(), "food", "groceries", postings.EXPIRED)
    postings.post(session(), postings.Entry(kind="expiry", programme="food",
                                            purse="groceries"),
                  [(account, -50_000), (expired, 50_000)])
    session().commit()
    assert redeem(family, 30_000).status_code == 200


def test_an_agent_of_an_allowed_category_redeems(family, redeem, app):
    koperasi = make_terminal(app, "agent", category="koperasi")
    assert redeem(family, 10_000, koperasi).status_code == 200


def test_an_agent_of_another_category_is_refused(family, redeem, app):
    warung = make_terminal(app, "agent", category="warung-kopi")
    details = refused(redeem(family, 10_000, warung), Reason.AGENT_CATEGORY_NOT_ALLOWED, 403)
    assert details == {"category": "warung-kopi", "allowed": ["e-warong", "koperasi"]}


def test_an_agent_with_no_category_is_refused(family, redeem, app):
    unsorted = make_terminal(app, "agent")
    refused(redeem(family, 10_000, unsorted), Reason.AGENT_CATEGORY_NOT_ALLOWED, 403)


def test_a_refused_debit_writes_nothing(family, redeem, app):
    assert redeem(family, 30_000).status_code == 200
    warung = make_terminal(app, "agent", category="warung-kopi")
    before = ledger_snapshot()
    receipts = session().execute(select(func.count()).select_from(IssuedDocument)).scalar_one()
    refused(redeem(family, 1), Reason.DAILY_CAP_EXCEEDED)
    refused(redeem(family, 1, warung), Reason.AGENT_CATEGORY_NOT_ALLOWED, 403)
    assert ledger_snapshot() == before
    assert session().execute(select(func.count()).select_from(IssuedDocument)).scalar_one() \
        == receipts


@pytest.mark.postgres
@pytest.mark.slow
def test_two_concurrent_debits_cannot_together_pass_a_cap(city_rules, committing_app):
    """Pairs of redemptions sent at once, each within the cap alone but not together:
    the second waits for the first's lock on the account and then counts it."""
    app = committing_app
    issuing = ca_module.init_ca(app.config["CA_DIR"], "Kota Uji")
    state(app).reload()
    shop = make_terminal(app, "agent", category="e-warong")
    client = app.test_client()
    tokens = []
    for n in range(8):
        head = make_citizen(full_name=f"Warga {n}")
        fund_account("food", "groceries", make_household(head=head, welfare_decile=1),
                     100_000)
        card = make_soft_card(issuing, head.national_number, head.id)
        record_soft_card(card)
        answer = authenticate(client, shop.token, card, app.config["ORIGIN"],
                              KEY_BY_ASSURANCE["pin"])
        assert answer.status_code == 200, answer.json
        tokens.append(answer.json["session_token"])

    def attempt(job):
        token, key = job
        answer = app.test_client().post("/api/v1/services/food/redeem", json=basket(20_000),
                                        headers={"Authorization": f"Bearer {token}",
                                                 "Idempotency-Key": key})
        return token, answer.status_code, answer.get_json()

    jobs = [(token, f"pair-{n}-{side}") for n, token in enumerate(tokens) for side in "ab"]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(attempt, jobs))
    for token in tokens:
        outcomes = sorted((status, body.get("error", {}).get("reason"))
                          for t, status, body in answers if t == token)
        assert outcomes == [(200, None), (409, Reason.DAILY_CAP_EXCEEDED)], outcomes
    with database().engine.connect() as db:
        spent = db.execute(text("SELECT sum(amount) FROM journal_entries "
                                "WHERE kind = 'spend'")).scalar()
    assert spent == 8 * 20_000
