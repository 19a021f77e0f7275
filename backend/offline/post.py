"""Posting an accepted offline redemption, and recording every verdict.

The goods are gone when the hub hears of the redemption, so it is paid in full to the
agent whatever the purse holds now: the purse pays what it has (never below zero), the
programme's offline-risk account the rest (a recorded shortfall), in ONE balanced entry.
The purse's daily and monthly caps do not refuse it: the offline caps bound it.
"""

from __future__ import annotations

import base64
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from backend.audit import record
from backend.auth.principal import Principal
from backend.errors import ApiError
from backend.ledger import postings
from backend.offline.judge import Accepted, Item
from backend.offline.models import OfflineRedemptionRow
from backend.services.context import HubContext
from card_reader.offline_wire import POSTED, REFUSED, SHORTFALL, Result

ROWS = OfflineRedemptionRow.__table__
ENTRY_KIND = "offline_spend"
AUDIT_ACTION = "ledger.offline_redemption"


def lock_risk_accounts(sess: Session, purses: set[tuple[str, str]]) -> None:
    """Take the offline-risk accounts a batch may draw on, in one order, before anything
    else: two shops' syncs of the same programme then run one after the other instead of
    each holding cards and purses the other waits for (a deadlock on PostgreSQL)."""
    for programme, purse in sorted(purses):
        account = postings.open_account(sess, programme, purse, postings.OFFLINE_RISK)
        sess.execute(select(postings.ACCOUNTS.c.id).where(postings.ACCOUNTS.c.id == account)
                     .with_for_update())


def purse_account(sess: Session, accepted: Accepted, principal: Principal) -> int | None:
    """The card holder's account of the purse (theirs or their household's), if any."""
    ctx = HubContext(sess, accepted.module, principal, accepted.citizen_id)
    try:
        return ctx.account_id(accepted.terms.purse)
    except ApiError:  # on no family card: no household purse to pay from
        return None


def _available(sess: Session, account_id: int | None, today: date) -> int:
    """What the purse can pay now: its balance, 0 once expired. Locks the row (the
    debit below must find the same balance)."""
    if account_id is None:
        return 0
    row = sess.execute(select(postings.ACCOUNTS.c.balance, postings.ACCOUNTS.c.expires_on)
                       .where(postings.ACCOUNTS.c.id == account_id).with_for_update()).one()
    if row.expires_on is not None and row.expires_on < today:
        return 0
    return max(0, int(row.balance))


def post(sess: Session, item: Item, accepted: Accepted, principal: Principal,
         terminal_id: str) -> Result:
    red = item.redemption
    # The purse as it stood on the day of the sale: credit that lapsed (or a month's
    # grant that came) since the link came back does not change what paid for it.
    terms = accepted.terms
    today = item.redeemed_at.astimezone(ZoneInfo(current_app.config["CITY_TIMEZONE"])).date()
    source = purse_account(sess, accepted, principal)
    paid = min(_available(sess, source, today), red.amount)
    shortfall = red.amount - paid
    sink = postings.open_account(sess, terms.programme, terms.purse,
                                 postings.Owner("terminal", terminal_id))
    legs: list[tuple[int, int]] = []
    if paid:
        assert source is not None
        legs.append((source, -paid))
    if shortfall:
        risk = postings.open_account(sess, terms.programme, terms.purse, postings.OFFLINE_RISK)
        legs.append((risk, -shortfall))
    legs.append((sink, red.amount))
    entry_id, _ = postings.post(sess, postings.Entry(
        kind=ENTRY_KIND, programme=terms.programme, purse=terms.purse,
        terminal_id=terminal_id, actor=f"card:{_card_serial(sess, accepted.card_id)}",
        citizen_id=accepted.citizen_id,
        details={"key": red.key, "counter": red.counter, "redeemed_at": red.redeemed_at,
                 "category": red.category, "paid": paid, "shortfall": shortfall}),
        legs, today)
    result = Result(key=red.key, status=SHORTFALL if shortfall else POSTED, paid=paid,
                    shortfall=shortfall, entry_id=entry_id)
    store(sess, item, terminal_id, result, accepted.card_id, accepted.citizen_id)
    return result


def _card_serial(sess: Session, card_id: int) -> str:
    from backend.cards.models import Card

    return str(sess.execute(select(Card.serial).where(Card.id == card_id)).scalar_one())


def store(sess: Session, item: Item, terminal_id: str, result: Result,
          card_id: int | None = None, citizen_id: int | None = None) -> None:
    red = item.redemption
    sess.execute(insert(ROWS).values(
        terminal_id=terminal_id, key=red.key, counter=red.counter, card_id=card_id,
        citizen_id=citizen_id, programme=red.programme, purse=red.purse, amount=red.amount,
        category=red.category, redeemed_at=item.redeemed_at, crl_number=red.crl_number,
        cert_sha256=item.certificate.sha256, signature=item.signed.signature,
        status=result.status, paid=result.paid, shortfall=result.shortfall,
        entry_id=result.entry_id, reason=result.reason))


def card_of(sess: Session, item: Item) -> Any:
    """The card issued with the item's certificate (id, citizen_id), if any."""
    from backend.cards.models import Card

    return sess.execute(select(Card.id, Card.citizen_id).where(
        Card.cert_9a_sha256 == item.certificate.sha256)).first()


def recorded(sess: Session, terminal_id: str, key: str) -> Any:
    return sess.execute(select(ROWS).where(ROWS.c.terminal_id == terminal_id,
                                           ROWS.c.key == key)).first()


def result_of(row: Any) -> Result:
    return Result(key=row.key, status=row.status, paid=int(row.paid),
                  shortfall=int(row.shortfall), entry_id=row.entry_id, reason=row.reason)


def same_content(row: Any, item: Item) -> bool:
    """Whether a recorded redemption is this one: the card's signature covers every
    field, so the same certificate and signature mean the same redemption."""
    return (row.cert_sha256 == item.certificate.sha256
            and bytes(row.signature) == item.signed.signature
            and row.counter == item.redemption.counter)


def refused(key: str, reason: str) -> Result:
    return Result(key=key, status=REFUSED, reason=reason)


def audit(sess: Session, item: Item, result: Result, citizen_id: int | None,
          card_serial: str | None = None) -> None:
    red = item.redemption
    record(sess, action=AUDIT_ACTION, subject_type="citizen" if citizen_id else "card",
           subject_id=str(citizen_id) if citizen_id else red.card_serial,
           outcome="ok" if result.status != REFUSED else str(result.reason),
           citizen_id=citizen_id,
           details={"key": red.key, "counter": red.counter, "terminal": red.terminal,
                    "programme": red.programme, "purse": red.purse, "amount": red.amount,
                    "category": red.category, "redeemed_at": red.redeemed_at,
                    "card_serial": card_serial or red.card_serial,
                    "crl_number": red.crl_number, "status": result.status,
                    "paid": result.paid, "shortfall": result.shortfall,
                    "entry_id": result.entry_id, "reason": result.reason,
                    "certificate_sha256": item.certificate.sha256,
                    "signature": base64.b64encode(item.signed.signature).decode(),
                    "signed_sha256": item.signed_sha256})
