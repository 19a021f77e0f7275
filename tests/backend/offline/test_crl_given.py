"""The hub knows which CRL each agent terminal was given and when (its bundle): a
redemption may claim only a time when the terminal held the CRL it names, and a card
listed on a newer CRL the terminal already had is refused whatever CRL it names."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from backend.cards import crl, lifecycle
from backend.db import session
from backend.offline.models import OfflineCrlServed
from backend.testing.identity import bearer
from card_reader.offline_wire import PATH_OFFLINE_BUNDLE
from tests.backend.offline.conftest import given_crl, now_seconds, signed


def _result(sync, agent, item) -> dict:
    answer = sync(agent, [item], given=False)
    assert answer.status_code == 200, answer.json
    return answer.json["results"][0]


def test_fetching_the_bundle_notes_the_crl_the_terminal_was_given_once(client, agent,
                                                                       published_crl):
    number = published_crl()
    for _ in range(2):
        assert client.get(PATH_OFFLINE_BUNDLE, headers=bearer(agent.token)).status_code == 200
    given = session().execute(select(OfflineCrlServed).where(
        OfflineCrlServed.terminal_id == agent.terminal_id)).scalars().all()
    assert [row.crl_number for row in given] == [number]


def test_a_redemption_dated_before_the_terminal_had_its_crl_is_refused(
        app, agent, family, published_crl, sync):
    _, card = family(100_000)
    number = published_crl()
    # The shop got the CRL ten minutes after the time the redemption claims: it could
    # not have judged the card by it then (an agent dating sales into a past day to
    # claim that day's caps again, or a past month's credit, meets this).
    given_crl(agent, number, now_seconds() + dt.timedelta(minutes=10))
    item = signed(card, app.config["ORIGIN"], agent.terminal_id, 1, number)
    assert _result(sync, agent, item)["reason"] == "offline_crl_stale"


def test_a_crl_never_given_to_the_terminal_is_refused(app, agent, family, published_crl,
                                                      sync):
    _, card = family(100_000)
    item = signed(card, app.config["ORIGIN"], agent.terminal_id, 1, published_crl())
    assert _result(sync, agent, item)["reason"] == "offline_crl_stale"


def test_a_card_on_a_newer_crl_the_terminal_had_is_refused_whatever_crl_it_names(
        app, agent, family, sync):
    _, card = family(100_000)
    old = crl.publish(session(), lifecycle.issuing_ca(), 24,
                      now=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).number
    session().commit()
    given_crl(agent, old, now_seconds() - dt.timedelta(minutes=50))
    lifecycle.revoke(session(), card.serial, "keyCompromise")  # publishes a newer CRL
    session().commit()
    given_crl(agent, crl.latest(session()).number, now_seconds() - dt.timedelta(minutes=10))
    item = signed(card, app.config["ORIGIN"], agent.terminal_id, 1, old)
    assert _result(sync, agent, item)["reason"] == "card_revoked"


def test_a_card_revoked_on_a_crl_the_terminal_had_not_yet_is_posted(app, agent, family,
                                                                    sync):
    _, card = family(100_000)
    old = crl.publish(session(), lifecycle.issuing_ca(), 24,
                      now=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).number
    session().commit()
    given_crl(agent, old, now_seconds() - dt.timedelta(minutes=50))
    lifecycle.revoke(session(), card.serial, "keyCompromise")
    session().commit()  # the shop's link was down: it never got the newer CRL
    item = signed(card, app.config["ORIGIN"], agent.terminal_id, 1, old)
    assert _result(sync, agent, item)["status"] == "posted"


def test_a_daemon_clock_a_minute_behind_its_crl_is_accepted(app, agent, family,
                                                            published_crl, sync):
    _, card = family(100_000)
    number = published_crl(dt.datetime.now(dt.UTC))
    given_crl(agent, number, now_seconds() - dt.timedelta(minutes=2))
    item = signed(card, app.config["ORIGIN"], agent.terminal_id, 1, number,
                  redeemed_at=now_seconds() - dt.timedelta(minutes=1))
    assert _result(sync, agent, item)["status"] == "posted"
