"""The messages that answer a peer's request: what a callback or a sync answer carries.

One function per action, each given the request's message and returning the answer's
message and the header's status. A search reads personal data: each person shown is
audited (`citizen.data.read`, the peer as actor, the fields shown, the purpose the
peer gave in `consent`/`authorize`, else "SPDCI search by <peer>").
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.audit import record_read
from backend.dci import peers, search, subscriptions
from backend.dci.envelope import SearchReason, Status, timestamp
from backend.dci.mapping import Scope, Shown
from backend.dci.models import DciPeer, DciTransaction

MAX_ITEMS = 50  # requests per message (header.total_count)


def overall(items: list[dict[str, Any]]) -> Status:
    """A batch's status: succ if any item succeeded, else rjct."""
    return Status.SUCCESS if any(i.get("status") == Status.SUCCESS.value for i in items) \
        else Status.REJECTED


def search_message(sess: Session, peer: DciPeer, request: dict[str, Any],
                   correlation_id: str, scope: Scope | None = None
                   ) -> tuple[dict[str, Any], Status, int]:
    """`SearchResponse`: one entry per request item; the reads audited. `scope`: what
    the request's token grants (`peers.granted`), else the peer's own."""
    items = request.get("search_request")
    shown = Shown()
    scope = Scope.of(peer.scope) if scope is None else scope
    answered: list[dict[str, Any]] = []
    seen: set[Any] = set()
    for item in _items(items):
        reference = item.get("reference_id") if isinstance(item, dict) else None
        if isinstance(reference, str) and reference in seen:  # repeated: not searched
            answered.append({"reference_id": reference, "timestamp": timestamp(),
                             "status": Status.REJECTED.value,
                             "status_reason_code": SearchReason.REFERENCE_ID_DUPLICATE.value,
                             "status_reason_message": "reference_id repeated in the message"})
        else:
            answered.append(search.answer_item(sess, item, scope, shown))
        seen.add(reference)
    purpose = _purpose(items, peer)
    for citizen_id, names in shown.fields.items():
        record_read(sess, citizen_id, purpose, names, principal=peers.principal(peer))
    message = {"transaction_id": str(request.get("transaction_id", "")),
               "correlation_id": correlation_id, "search_response": answered}
    return message, overall(answered), len(answered)


def subscribe_message(sess: Session, peer: DciPeer, request: dict[str, Any],
                      correlation_id: str, scope: Scope | None = None
                      ) -> tuple[dict[str, Any], Status, int]:
    transaction_id = str(request.get("transaction_id", ""))
    answered = [subscriptions.subscribe_item(sess, peer, transaction_id, item, scope)
                for item in _items(request.get("subscribe_request"))]
    return ({"transaction_id": transaction_id, "correlation_id": correlation_id,
             "subscribe_response": answered}, overall(answered), len(answered))


def unsubscribe_message(sess: Session, peer: DciPeer, request: dict[str, Any],
                        correlation_id: str, scope: Scope | None = None
                        ) -> tuple[dict[str, Any], Status, int]:
    status, reason, statuses = subscriptions.unsubscribe(sess, peer,
                                                         request.get("subscription_codes"))
    message: dict[str, Any] = {"transaction_id": str(request.get("transaction_id", "")),
                               "correlation_id": correlation_id, "timestamp": timestamp(),
                               "status": status.value, "subscription_status": statuses}
    if reason is not None:
        message["status_reason_code"] = reason.value
    return message, status, 1


def txn_status_message(sess: Session, peer: DciPeer, request: dict[str, Any],
                       correlation_id: str, scope: Scope | None = None
                       ) -> tuple[dict[str, Any], Status, int]:
    """`TxnStatusResponse`: the statuses of the peer's earlier transaction, never data."""
    asked = request.get("txnstatus_request")
    asked = asked if isinstance(asked, dict) else {}
    txn_type = asked.get("txn_type") if asked.get("txn_type") in (
        "search", "subscribe", "receipt") else "search"
    found = _find(sess, peer, asked.get("attribute_type"), asked.get("attribute_value"))
    entries = []
    if found is not None:
        for reference, status in json.loads(found.references).items():
            entries.append({"reference_id": reference, "timestamp": timestamp(found.created_at),
                            "status": status})
    txn_status = {"transaction_id": found.transaction_id if found else str(
        request.get("transaction_id", "")), "correlation_id": found.correlation_id if found
        else correlation_id, "search_response": entries}
    message = {"transaction_id": str(request.get("transaction_id", "")),
               "correlation_id": correlation_id,
               "txnstatus_response": {"txn_type": txn_type, "txn_status": txn_status}}
    return message, (Status.SUCCESS if found else Status.REJECTED), 1


def _find(sess: Session, peer: DciPeer, attribute: Any, value: Any) -> DciTransaction | None:
    mine = select(DciTransaction).where(DciTransaction.peer_id == peer.sender_id)
    if attribute == "correlation_id" and isinstance(value, str):
        statement = mine.where(DciTransaction.correlation_id == value[:40])
    elif attribute == "transaction_id" and isinstance(value, str):
        statement = mine.where(DciTransaction.transaction_id == value[:99])
    elif attribute == "reference_id_list" and isinstance(value, list) and value:
        wanted = {v for v in value if isinstance(v, str)}
        for row in sess.execute(mine.order_by(DciTransaction.created_at.desc()).limit(500)
                                ).scalars():
            if wanted & set(json.loads(row.references)):
                return row
        return None
    else:
        return None
    return sess.execute(statement.order_by(DciTransaction.created_at.desc()).limit(1)
                        ).scalar_one_or_none()


def _items(items: Any) -> list[Any]:
    return items[:MAX_ITEMS] if isinstance(items, list) else []


def _purpose(items: Any, peer: DciPeer) -> str:
    for item in _items(items):
        criteria = item.get("search_criteria") if isinstance(item, dict) else None
        for part in ("consent", "authorize"):
            given = criteria.get(part) if isinstance(criteria, dict) else None
            purpose = given.get("purpose") if isinstance(given, dict) else None
            text = purpose.get("text") if isinstance(purpose, dict) else None
            if isinstance(text, str) and text.strip():
                return f"SPDCI search by {peer.sender_id}: {text.strip()[:200]}"
    return f"SPDCI search by {peer.sender_id}"


def references(message: dict[str, Any], key: str) -> dict[str, str]:
    """{reference_id: status} of an answer's items, for txn/status."""
    return {str(e.get("reference_id")): str(e.get("status"))
            for e in message.get(key, []) if isinstance(e, dict)}
