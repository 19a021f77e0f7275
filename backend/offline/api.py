"""The two routes an agent's daemon uses around a link outage (`card_reader.offline_wire`).

`GET /offline/bundle`: what it keeps to redeem without the hub. `POST
/offline/redemptions`: what it redeemed meanwhile. A body of the wrong shape refuses
the whole request (`redemption_malformed`, nothing written), as does an item whose key
cannot be read; otherwise every item gets a final result, judged and posted in a
savepoint of its own, so one refusal leaves the others posted (an item of the wrong
shape with a readable key is one such refusal). A key this terminal sent before
answers what it got then.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from flask import current_app, request
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.api.routing import MAX_BODY_BYTES, Api, OutModel
from backend.auth.principal import Principal, Requirement, current_principal
from backend.cards.chain import CertificateMalformed
from backend.cards.context import state
from backend.cards.store import utcnow
from backend.db import session
from backend.errors import ApiError
from backend.identity.models import Terminal
from backend.offline import bundle, post
from backend.offline.judge import Item, Refused, Settings, judge
from backend.offline.programmes import offline_purse
from backend.reasons import Reason
from backend.services.catalogue import modules
from card_reader.offline_wire import (
    KEY_PATTERN,
    MAX_BATCH,
    OfflineWireError,
    Result,
    SignedRedemption,
)

api = Api("offline", url_prefix="/offline", tag="offline")
AGENTS = Requirement(terminal_kinds=("agent",))
ITEM_REASONS = (
    Reason.IDEMPOTENCY_KEY_REUSED, Reason.TERMINAL_MISMATCH, Reason.OFFLINE_COUNTER_REUSED,
    Reason.OFFLINE_NOT_ALLOWED, Reason.AMOUNT_ABOVE_CAP, Reason.CERTIFICATE_UNTRUSTED,
    Reason.CERTIFICATE_EXPIRED, Reason.CERTIFICATE_NOT_YET_VALID,
    Reason.CERTIFICATE_WRONG_USAGE, Reason.CARD_UNKNOWN, Reason.SIGNATURE_INVALID,
    Reason.OFFLINE_CRL_STALE, Reason.CARD_SUSPENDED, Reason.CARD_REVOKED,
    Reason.CARD_SUPERSEDED, Reason.OFFLINE_CARD_CAP_EXCEEDED,
    Reason.OFFLINE_AGENT_CAP_EXCEEDED)


def _terminal() -> tuple[Principal, str]:
    principal = current_principal()
    assert principal is not None and principal.terminal_id is not None  # AGENTS admits only
    return principal, principal.terminal_id


class ProgrammeOut(OutModel):
    programme: str
    purse: str
    title: dict[str, str]
    categories: list[str]
    card_daily_cap: int
    agent_daily_cap: int
    max_redemption: int


class BundleOut(OutModel):
    terminal: str
    origin: str = Field(description="the hub's canonical origin, which the card signs")
    timezone: str = Field(description="the city's IANA zone: the caps count its days")
    roots: list[str] = Field(description="the city's root CA certificate(s), PEM")
    issuers: list[str] = Field(description="the issuing CA certificates the hub trusts, PEM")
    crl: str = Field(description="base64 of the issuing CA's latest CRL (DER)")
    crl_grace_hours: int
    programmes: list[ProgrammeOut]
    counter: int = Field(description="the highest redemption counter the hub has from "
                         "this terminal")


@api.route("/bundle", summary="What an agent's reader keeps to redeem offline",
           auth=AGENTS, response=BundleOut, reasons=(Reason.SERVICE_UNAVAILABLE,))
def offline_bundle() -> dict[str, Any]:
    """The city's CA certificates and latest CRL, the grace past its nextUpdate, the
    purses this terminal may redeem offline with their caps, and its highest counter."""
    _, terminal_id = _terminal()
    return bundle.build(session(), terminal_id, modules()).to_dict()


class RedemptionsIn(OutModel):
    redemptions: list[dict[str, Any]] = Field(
        description=f"at most {MAX_BATCH} `SignedRedemption`s: {{redemption: {{key, "
        "terminal, counter, programme, purse, amount, category, redeemed_at, card_serial, "
        "crl_number}}, certificate, signature}}")


class ResultOut(OutModel):
    key: str
    status: str = Field(description="posted | shortfall | refused")
    paid: int
    shortfall: int
    entry_id: int | None
    reason: str | None


class ResultsOut(OutModel):
    results: list[ResultOut]


def _malformed(detail: str) -> ApiError:
    return ApiError(Reason.REDEMPTION_MALFORMED, detail, 400)


@dataclass(frozen=True)
class Unreadable:
    """An item of the wrong shape whose key can still be read: refused on its own
    (`redemption_malformed`), so one bad redemption does not hold up the queue behind
    it. Not recorded: the same bytes are refused the same way again."""

    key: str
    detail: str


def _readable_key(data: Any) -> str | None:
    red = data.get("redemption") if isinstance(data, dict) else None
    key = red.get("key") if isinstance(red, dict) else None
    return key if isinstance(key, str) and KEY_PATTERN.match(key) else None


def read_batch(raw: Any) -> list[Item | Unreadable]:
    """Every item read and its certificate inspected; an item of the wrong shape is
    refused alone if its key can be read, else the whole request."""
    if not isinstance(raw, dict) or set(raw) != {"redemptions"} \
            or not isinstance(raw["redemptions"], list):
        raise _malformed('expected {"redemptions": [...]}')
    if len(raw["redemptions"]) > MAX_BATCH:
        raise _malformed(f"at most {MAX_BATCH} redemptions a request")
    trust, origin = state().trust_store(), current_app.config["ORIGIN"]
    items: list[Item | Unreadable] = []
    for number, data in enumerate(raw["redemptions"]):
        try:
            signed = SignedRedemption.from_dict(data)
            at = dt.datetime.strptime(signed.redemption.redeemed_at, "%Y-%m-%dT%H:%M:%SZ")
            certificate = trust.inspect(signed.certificate)
        except (OfflineWireError, ValueError, CertificateMalformed) as exc:
            key = _readable_key(data)
            if key is None:
                raise _malformed(f"redemption {number}: {exc}") from exc
            items.append(Unreadable(key, str(exc)))
            continue
        items.append(Item(signed, certificate, at.replace(tzinfo=dt.UTC),
                          hashlib.sha256(signed.redemption.signed_bytes(origin)).hexdigest()))
    return items


@api.route("/redemptions", "POST", summary="Sync the redemptions made offline",
           auth=AGENTS, response=ResultsOut, doc_body=RedemptionsIn,
           reasons=(Reason.REDEMPTION_MALFORMED, Reason.PAYLOAD_TOO_LARGE, *ITEM_REASONS))
def sync_redemptions() -> dict[str, Any]:
    """One result per redemption, in order, each final: `posted` (the purse paid it
    all), `shortfall` (the purse paid what it had, the programme's offline risk the
    rest), or `refused` with a reason (checked in this order: terminal_mismatch,
    offline_counter_reused, offline_not_allowed, amount_above_cap, the certificate's
    reasons, card_unknown, signature_invalid, offline_crl_stale, card_suspended /
    card_revoked / card_superseded, offline_card_cap_exceeded,
    offline_agent_cap_exceeded). A key sent again answers its first result;
    `idempotency_key_reused` when its content differs. An item of the wrong shape whose
    key can be read: refused `redemption_malformed` on its own. A body, or an item with
    no readable key, of the wrong shape: 400 `redemption_malformed`, nothing judged."""
    if request.content_length and request.content_length > MAX_BODY_BYTES:
        raise ApiError(Reason.PAYLOAD_TOO_LARGE, "the body is too large", 413)
    items = read_batch(request.get_json(silent=True, force=True))
    principal, terminal_id = _terminal()
    config = current_app.config
    settings = Settings(terminal_id=terminal_id, origin=config["ORIGIN"],
                        grace=dt.timedelta(hours=config["OFFLINE_CRL_GRACE_HOURS"]),
                        zone=config["CITY_TIMEZONE"], now=utcnow())
    sess, live = session(), modules()
    # One sync at a time per terminal: its counters and its day cap are judged in turn.
    sess.execute(select(Terminal.id).where(Terminal.id == terminal_id).with_for_update())
    readable = [item for item in items if isinstance(item, Item)]
    post.lock_risk_accounts(sess, {(item.redemption.programme, item.redemption.purse)
                                   for item in readable if item.redemption.programme in live
                                   and offline_purse(live[item.redemption.programme],
                                                     item.redemption.purse) is not None})
    return {"results": [
        (_one(sess, item, live, principal, settings) if isinstance(item, Item)
         else post.refused(item.key, Reason.REDEMPTION_MALFORMED)).to_dict()
        for item in items]}


def _one(sess: Session, item: Item, live: dict, principal: Principal,
         settings: Settings) -> Result:
    key = item.redemption.key
    found = post.recorded(sess, settings.terminal_id, key)
    if found is not None:
        return _replay(sess, found, item)
    savepoint = sess.begin_nested()
    try:
        accepted = judge(sess, item, live, settings)
        result = post.post(sess, item, accepted, principal, settings.terminal_id)
        post.audit(sess, item, result, accepted.citizen_id)
        savepoint.commit()
        return result
    except Refused as refusal:
        savepoint.rollback()
        return _refuse(sess, item, settings.terminal_id, refusal.reason)
    except IntegrityError:
        # Another request recorded this key (or took this counter) meanwhile.
        savepoint.rollback()
        found = post.recorded(sess, settings.terminal_id, key)
        if found is not None:
            return _replay(sess, found, item)
        return _refuse(sess, item, settings.terminal_id, Reason.OFFLINE_COUNTER_REUSED)


def _replay(sess: Session, row: Any, item: Item) -> Result:
    if post.same_content(row, item):
        return post.result_of(row)
    result = post.refused(item.redemption.key, Reason.IDEMPOTENCY_KEY_REUSED)
    post.audit(sess, item, result, row.citizen_id)
    return result


def _refuse(sess: Session, item: Item, terminal_id: str, reason: str) -> Result:
    """Record the refusal (so the key answers it again) and audit it, outside the
    rolled-back savepoint; a key recorded meanwhile answers what was recorded."""
    result = post.refused(item.redemption.key, reason)
    card = post.card_of(sess, item)
    card_id, citizen_id = (card.id, card.citizen_id) if card is not None else (None, None)
    savepoint = sess.begin_nested()
    try:
        post.store(sess, item, terminal_id, result, card_id, citizen_id)
        savepoint.commit()
    except IntegrityError:
        savepoint.rollback()
        found = post.recorded(sess, terminal_id, item.redemption.key)
        if found is not None:
            return _replay(sess, found, item)
        raise
    post.audit(sess, item, result, citizen_id)
    return result
