"""The bundle an agent's daemon keeps to redeem offline."""

from __future__ import annotations

from cryptography import x509

from backend.testing.identity import bearer
from card_reader.offline_wire import PATH_OFFLINE_BUNDLE, Bundle
from tests.backend.offline.conftest import signed


def test_the_bundle_holds_the_chain_the_crl_and_the_food_purse_caps(
        app, client, agent, card_ca):
    answer = client.get(PATH_OFFLINE_BUNDLE, headers=bearer(agent.token))
    assert answer.status_code == 200, answer.json
    got = Bundle.from_dict(answer.json)
    assert got.terminal == agent.terminal_id and got.counter == 0
    assert got.origin == app.config["ORIGIN"]
    assert got.timezone == app.config["CITY_TIMEZONE"] and got.crl_grace_hours == 24
    x509.load_der_x509_crl(got.crl)
    assert [x509.load_pem_x509_certificate(p.encode()).subject for p in got.issuers] == \
        [card_ca.certificate.subject]
    assert x509.load_pem_x509_certificate(got.roots[0].encode()).subject == \
        card_ca.root.subject
    [food] = got.programmes
    assert (food.programme, food.purse) == ("food", "groceries")
    assert (food.card_daily_cap, food.agent_daily_cap, food.max_redemption) == \
        (100_000, 300_000, 100_000)
    assert "rice" in food.categories and food.title["en"] == "Food assistance"


def test_the_bundle_counts_the_highest_counter_seen(app, client, agent, family,
                                                    published_crl, sync):
    _, card = family()
    sync(agent, [signed(card, app.config["ORIGIN"], agent.terminal_id, 41,
                        published_crl())])
    answer = client.get(PATH_OFFLINE_BUNDLE, headers=bearer(agent.token))
    assert answer.json["counter"] == 41


def test_other_terminals_get_no_bundle(client, terminal, card_ca):
    answer = client.get(PATH_OFFLINE_BUNDLE, headers=bearer(terminal("kiosk").token))
    assert answer.status_code == 403
    assert answer.json["error"]["reason"] == "terminal_kind_not_allowed"
