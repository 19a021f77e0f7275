"""Callbacks and notifications, sent by Celery with retries.

`send_callback` answers one transaction at its sender's callback URI; `notify` finds
the subscriptions a registry change touches and queues one `send_notification` each.
A send builds the message, signs it and commits, with the audit records of the people
it shows, before it posts: a read is on record even when the post's fate is unknown
(a timeout after the peer took it). Delivery is marked in a second transaction. A
failure (network, non-2xx) retries with exponential backoff (2 s doubling, at most 10
minutes apart, MAX_RETRIES times); after the last, a search is marked rjct and its
criteria dropped. A search is run again at each try (each read audited); the other
answers were made once, when the request was received. A search that fails in a way
nobody foresaw is answered rjct rather than never.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from celery import Task, shared_task
from flask import current_app
from sqlalchemy import select

from backend.dci import answers, mapping, outbox, peers, subscriptions
from backend.dci.envelope import (
    CALLBACK,
    CALLBACK_PATH,
    SearchReason,
    Status,
    callback_header,
    timestamp,
)
from backend.dci.mapping import Scope, Shown
from backend.dci.models import DciPeer, DciSubscription, DciTransaction
from backend.dci.outbox import DeliveryFailed

MAX_RETRIES = 8
log = logging.getLogger(__name__)


@shared_task(name="dci.send_callback", bind=True, autoretry_for=(DeliveryFailed,),
             retry_backoff=2, retry_backoff_max=600, retry_jitter=False,
             max_retries=MAX_RETRIES, ignore_result=True)
def send_callback(self: Task, correlation_id: str) -> str:
    """Post the answer to one transaction; what happened, in a word."""
    from backend.db import database

    with database().transaction() as tx:
        txn = tx.get(DciTransaction, correlation_id)
        if txn is None or txn.delivered_at is not None or (
                txn.answer is None and txn.request == "{}"):  # sent, or given up
            return "nothing to send"
        peer = tx.get(DciPeer, txn.peer_id)
        assert peer is not None  # a foreign key
        if not peer.enabled:
            _give_up(txn)
            return "peer disabled"
        if txn.answer is not None:
            message = json.loads(txn.answer)
            status = Status(txn.status)
            count = 1
        else:
            message, status, count = _search(tx, peer, txn)
        action = CALLBACK[txn.action]
        header = callback_header(action, sender_id=outbox.sender_id(current_app.config),
                                 receiver_id=peer.sender_id, status=status,
                                 total_count=count, completed_count=count)
        body = outbox.seal(current_app.config, header, message)
        peer_id = peer.sender_id
        url = (txn.callback_uri or peer.callback_uri) + CALLBACK_PATH[action]
    try:  # the reads above are committed, on record whatever the post's fate
        outbox.deliver(current_app.config, peer_id, url, body)
    except DeliveryFailed:
        if self.request.retries < MAX_RETRIES:
            raise
        with database().transaction() as tx:
            found = tx.get(DciTransaction, correlation_id)
            if found is not None:
                _give_up(found)
        return "given up"
    with database().transaction() as tx:
        found = tx.get(DciTransaction, correlation_id)
        if found is not None:
            found.delivered_at = dt.datetime.now(dt.UTC)
            found.request = "{}"  # its criteria (NIKs, names) are kept no longer than needed
    return "sent"


def _give_up(txn: DciTransaction) -> None:
    """The answer will never be sent: rjct, and the criteria dropped."""
    txn.status = Status.REJECTED.value
    txn.request = "{}"
    txn.answer = None
    txn.references = json.dumps({reference: Status.REJECTED.value
                                 for reference in json.loads(txn.references or "{}")})


def _search(tx: Any, peer: DciPeer, txn: DciTransaction
            ) -> tuple[dict[str, Any], Status, int]:
    """The search's answer; a fault nobody foresaw answers every item rjct (and the
    criteria are dropped) rather than failing the callback for good."""
    request = json.loads(txn.request)
    try:
        with tx.begin_nested():
            message, status, count = answers.search_message(
                tx, peer, request, txn.correlation_id, peers.granted(peer, txn.scope))
    except Exception:  # any fault: the peer is told, the criteria dropped
        log.exception("SPDCI search %s could not be answered", txn.correlation_id)
        items = request.get("search_request") if isinstance(request, dict) else None
        references = [str(i.get("reference_id") or "") for i in items
                      if isinstance(i, dict)] if isinstance(items, list) else []
        answered = [{"reference_id": reference, "timestamp": timestamp(),
                     "status": Status.REJECTED.value,
                     "status_reason_code": SearchReason.CRITERIA.value,
                     "status_reason_message": "this search could not be answered"}
                    for reference in references or [""]]
        message = {"transaction_id": txn.transaction_id,
                   "correlation_id": txn.correlation_id, "search_response": answered}
        status, count = Status.REJECTED, len(answered)
        txn.answer = json.dumps(message)  # no personal data: resent as made
        txn.request = "{}"
    txn.references = json.dumps(answers.references(message, "search_response"))
    txn.status = status.value
    return message, status, count


@shared_task(name="dci.notify", ignore_result=True)
def notify(citizen_ids: list[int], household_ids: list[int], event_type: str) -> int:
    """Queue one notification per live subscription the change touches; how many."""
    from backend.db import database
    from backend.registry.models import HouseholdMember

    with database().transaction() as tx:
        people = set(citizen_ids) | set(tx.execute(select(HouseholdMember.citizen_id).where(
            HouseholdMember.household_id.in_(household_ids))).scalars())
        touched: dict[str, set[int]] = {}
        for subscription, citizen_id in subscriptions.matching(tx, sorted(people)):
            touched.setdefault(subscription.code, set()).add(citizen_id)
    for code, ids in sorted(touched.items()):
        send_notification.apply_async(args=(code, sorted(ids), event_type))
    return len(touched)


@shared_task(name="dci.send_notification", autoretry_for=(DeliveryFailed,), retry_backoff=2,
             retry_backoff_max=600, retry_jitter=False, max_retries=MAX_RETRIES,
             ignore_result=True)
def send_notification(code: str, citizen_ids: list[int], event_type: str) -> str:
    from backend.audit import record_read
    from backend.db import database

    with database().transaction() as tx:
        subscription = tx.get(DciSubscription, code)
        if subscription is None or subscription.status != subscriptions.LIVE:
            return "ended"
        peer = tx.get(DciPeer, subscription.peer_id)
        assert peer is not None
        if not peer.enabled:
            return "peer disabled"
        shown = Shown()
        records = _records(tx, subscription, citizen_ids,
                           peers.granted(peer, subscription.scope), shown)
        if not records:
            return "nothing to show"
        kind = "Group" if "group" in subscription.notify_record_type.lower() else "Person"
        message = {"transaction_id": subscription.transaction_id, "notify_event": [
            {"reference_id": subscription.reference_id, "timestamp": timestamp(),
             "data": {"version": "1.0.0", "reg_type": mapping.REG_TYPE,
                      "reg_event_type": event_type, "reg_record_type": kind,
                      "reg_records": record}} for record in records]}
        purpose = f"SPDCI notification to {peer.sender_id}, subscription {code}"
        for citizen_id, names in shown.fields.items():
            record_read(tx, citizen_id, purpose, names, principal=peers.principal(peer))
        header = callback_header("notify", sender_id=outbox.sender_id(current_app.config),
                                 receiver_id=peer.sender_id, status=Status.SUCCESS,
                                 total_count=len(records), completed_count=len(records))
        body = outbox.seal(current_app.config, header, message)
        peer_id, url = peer.sender_id, peer.callback_uri + CALLBACK_PATH["notify"]
    # the reads are committed before the post: on record whatever its fate
    outbox.deliver(current_app.config, peer_id, url, body)
    return "sent"


def _records(tx: Any, subscription: DciSubscription, citizen_ids: list[int], scope: Scope,
             shown: Shown) -> list[dict[str, Any]]:
    from backend.registry import households
    from backend.registry.models import Citizen

    if "group" in subscription.notify_record_type.lower():
        out, seen = [], set()
        for citizen_id in citizen_ids:
            found = households.membership(tx, citizen_id)
            if found is None or found[1].id in seen:
                continue
            family = found[1]
            seen.add(family.id)
            out.append(mapping.group(family, [(m.relationship, c) for m, c in
                                              households.members(tx, family.id)], scope, shown))
        return out
    out = []
    for person in tx.execute(select(Citizen).where(Citizen.id.in_(citizen_ids))
                             .order_by(Citizen.id)).scalars():
        record, names = mapping.person(person, scope)
        shown.add(person.id, names)
        out.append(record)
    return out
