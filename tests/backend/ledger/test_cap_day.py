"""A purse's daily cap counts the city's local day, not the UTC one."""

import datetime as dt

import pytest

from backend.db import session
from backend.errors import ApiError
from backend.ledger import postings
from backend.reasons import Reason

JAKARTA = "Asia/Jakarta"  # UTC+7: its day starts at 17:00 UTC the day before
NOW = dt.datetime(2026, 5, 20, 3, 0, tzinfo=dt.UTC)  # 10:00 in Jakarta


@pytest.fixture
def account(app):
    sess = session()
    holder = postings.open_account(sess, "food", "groceries", postings.Owner("household", "7"))
    funding = postings.open_account(sess, "food", "groceries", postings.FUNDING)
    shop = postings.open_account(sess, "food", "groceries", postings.Owner("terminal", "a-1"))
    postings.post(sess, postings.Entry("credit", "food", "groceries"),
                  [(funding, -100_000), (holder, 100_000)])

    def spend(at):
        postings.post(sess, postings.Entry("spend", "food", "groceries", at=at),
                      [(holder, -30_000), (shop, 30_000)])
    return holder, spend


def test_a_debit_after_local_midnight_counts_in_todays_cap(account):
    holder, spend = account
    spend(dt.datetime(2026, 5, 19, 18, 0, tzinfo=dt.UTC))  # 01:00 today in Jakarta
    with pytest.raises(ApiError) as refused:
        postings.check_caps(session(), postings.Caps(holder, daily=50_000, zone=JAKARTA),
                            30_000, now=NOW)
    assert refused.value.reason == Reason.DAILY_CAP_EXCEEDED
    assert refused.value.details == {"cap": 50_000, "spent": 30_000, "amount": 30_000}


def test_a_debit_before_local_midnight_counts_in_yesterdays(account):
    holder, spend = account
    spend(dt.datetime(2026, 5, 19, 16, 0, tzinfo=dt.UTC))  # 23:00 yesterday in Jakarta
    postings.check_caps(session(), postings.Caps(holder, daily=50_000, zone=JAKARTA),
                        30_000, now=NOW)
