"""A statement's times follow the order the ledger applied its lines.

One household's purse, 100 redemptions from it at once on PostgreSQL, each in its own
connection and transaction with real commits: every group of redemptions has begun
before any of them takes the purse's row lock, so they start in one order and are
applied in another. The statement must show the applied order, and its times with it.
"""

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from threading import Barrier

import pytest
from sqlalchemy import text

from backend.db import Database
from backend.documents.statement import statement_content
from backend.ledger import postings

pytestmark = pytest.mark.postgres

REDEMPTIONS, AT_ONCE, PRICE = 100, 20, 1_000
HOME = postings.Owner.of("household", 7)
SHOP = postings.Owner("terminal", "shop-1")


def purse_of(sess, owner):
    return postings.open_account(sess, "food", "groceries", owner)


def redeem(db: Database, started_together: Barrier) -> None:
    """One redemption as a request makes it: its transaction is under way (it has read)
    before it waits for the purse."""
    with db.transaction() as sess:
        source, sink = purse_of(sess, HOME), purse_of(sess, SHOP)
        sess.execute(text("SELECT 1"))
        started_together.wait()
        postings.post(sess, postings.Entry("spend", "food", "groceries", terminal_id="shop-1"),
                      [(source, -PRICE), (sink, PRICE)])


@pytest.fixture
def statement(fresh_pg_url):
    """The household's statement lines after 100 concurrent redemptions, oldest first
    as the statement lists them (it lists newest first)."""
    db = Database(fresh_pg_url)
    try:
        with db.transaction() as sess:
            home, funding = purse_of(sess, HOME), purse_of(sess, postings.FUNDING)
            purse_of(sess, SHOP)
            postings.post(sess, postings.Entry("credit", "food", "groceries"),
                          [(funding, -REDEMPTIONS * PRICE), (home, REDEMPTIONS * PRICE)])
        started_together = Barrier(AT_ONCE, timeout=30)
        with ThreadPoolExecutor(AT_ONCE) as pool:
            for done in [pool.submit(redeem, db, started_together)
                         for _ in range(REDEMPTIONS)]:
                done.result()
        with db.transaction() as sess:
            lines = postings.recent_lines(sess, purse_of(sess, HOME), REDEMPTIONS + 1)
            content = statement_content("Warga", [{
                "title": "Sembako", "balances": {"groceries": postings.balance_of(
                    sess, purse_of(sess, HOME))}, "recent": lines}])
    finally:
        db.engine.dispose()
    [programme] = content["programmes"]
    assert programme["balances"] == {"groceries": 0}
    assert len(programme["lines"]) == REDEMPTIONS + 1
    return list(reversed(programme["lines"]))


def at(line):
    return datetime.fromisoformat(line["at"])


def test_a_statement_sorted_by_its_times_is_a_consistent_balance_chain(statement):
    by_time = sorted(statement, key=at)
    assert by_time[0]["balance_after"] == REDEMPTIONS * PRICE
    for before, line in zip(by_time, by_time[1:], strict=False):
        assert line["balance_after"] == before["balance_after"] + line["amount"], (
            f"entry {line['entry_id']} at {line['at']} follows entry {before['entry_id']} "
            f"at {before['at']}")


def test_the_statement_lists_lines_in_ledger_order(statement):
    for before, line in zip(statement, statement[1:], strict=False):
        assert line["balance_after"] == before["balance_after"] + line["amount"]


def test_times_never_decrease_along_the_ledger_order(statement):
    times = [at(line) for line in statement]
    assert times == sorted(times)
