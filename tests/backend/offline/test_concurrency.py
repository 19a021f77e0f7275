"""Two agents' daemons syncing at once on PostgreSQL, with real commits: every key posts
once, a card's offline day cap holds across terminals, the ledger stays whole."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from backend.cards import ca as ca_module
from backend.cards import crl
from backend.cards.context import state
from backend.db import database
from backend.ledger import checks
from backend.offline.models import OfflineRedemptionRow
from backend.testing.cards import make_soft_card, record_soft_card
from backend.testing.identity import bearer, make_terminal
from backend.testing.registry import make_citizen, make_household
from backend.testing.services import fund_account
from card_reader.offline_wire import PATH_OFFLINE_BUNDLE, PATH_OFFLINE_REDEMPTIONS
from tests.backend.offline.conftest import signed

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_concurrent_syncs_post_each_key_once_and_hold_the_card_cap(committing_app):
    app = committing_app
    issuing = ca_module.init_ca(app.config["CA_DIR"], "Kota Uji")
    state(app).reload()
    shops = [make_terminal(app, "agent") for _ in range(2)]
    cards = []
    for n in range(6):
        head = make_citizen(full_name=f"Warga {n}")
        fund_account("food", "groceries", make_household(head=head, welfare_decile=1), 30_000)
        card = make_soft_card(issuing, head.national_number, head.id)
        record_soft_card(card)
        cards.append(card)
    with database().transaction() as sess:
        number = crl.publish(sess, issuing, 24).number
    origin = app.config["ORIGIN"]
    for shop in shops:  # each daemon fetched its bundle (CRL `number`) before the outage
        fetched = app.test_client().get(PATH_OFFLINE_BUNDLE, headers=bearer(shop.token))
        assert fetched.status_code == 200 and fetched.json["counter"] == 0
    # Each card redeems 60,000 at each shop: only 100,000 of the 120,000 may be accepted.
    # The second shop's daemon lists them the other way round: the two syncs meet the
    # same cards in opposite orders.
    batches = {shop.token: [signed(card, origin, shop.terminal_id, n + 1, number,
                                   amount=60_000) for n, card in enumerate(cards)]
               for shop in shops}
    batches[shops[1].token].reverse()

    def send(token):
        answer = app.test_client().post(PATH_OFFLINE_REDEMPTIONS,
                                        json={"redemptions": batches[token]},
                                        headers=bearer(token))
        assert answer.status_code == 200, answer.json
        return answer.json["results"]

    jobs = [shop.token for shop in shops] * 3  # each batch three times, all at once
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(send, jobs))

    by_key: dict[str, set] = {}
    for results in answers:
        for result in results:
            by_key.setdefault(result["key"], set()).add(tuple(sorted(
                (k, str(v)) for k, v in result.items())))
    assert all(len(seen) == 1 for seen in by_key.values())  # every repeat answered the same
    with database().transaction() as sess:
        rows = OfflineRedemptionRow.__table__
        accepted = sess.execute(select(rows.c.card_id, func.count()).where(
            rows.c.status != "refused").group_by(rows.c.card_id)).all()
        assert sorted(count for _, count in accepted) == [1] * len(cards)
        assert sess.execute(select(func.count()).select_from(rows)).scalar_one() == 12
        assert all(not found for found in checks.findings(sess).values())
