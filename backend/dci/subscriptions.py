"""Subscriptions: a peer asks to be told when records change; we tell it (`notify`).

A subscription's filter is resolved when it is made, to what our registry can watch:

- `idtype-value` NationalID -> one person (rjct.person_id.invalid if unknown);
  FamilyCard -> one family card;
- `predicate` `region_code` eq -> every record in that area (a prefix of 2 to 10 digits).

Anything else is rjct.notify_details.invalid. `notify_record_type` is Person (or
Member) or Group, and needs the scope that shows it (rjct.notify_types.invalid). The
same filter and record type twice for one peer is rjct.event.already_subscribed.

`matching` finds the live subscriptions a change of some people touches; the notify
task (backend.dci.tasks) builds and sends their messages.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from backend.dci import mapping
from backend.dci.envelope import (
    Status,
    SubscribeReason,
    UnsubscribeReason,
    new_id,
    timestamp,
)
from backend.dci.mapping import Scope
from backend.dci.models import DciPeer, DciSubscription
from backend.registry.models import Citizen, Household, HouseholdMember

LIVE = "subscribe"
ENDED = "unsubscribe"


class Refused(ValueError):
    def __init__(self, code: SubscribeReason, message: str) -> None:
        super().__init__(message)
        self.code = code


def subscribe_item(sess: Session, peer: DciPeer, transaction_id: str, item: Any,
                   scope: Scope | None = None) -> dict[str, Any]:
    """The `subscribe_response` entry for one `subscribe_request` item (made or refused)."""
    reference = item.get("reference_id") if isinstance(item, dict) else None
    out: dict[str, Any] = {"reference_id": str(reference or ""), "timestamp": timestamp()}
    try:
        if not isinstance(reference, str) or not reference or len(reference) > 99:
            raise Refused(SubscribeReason.REFERENCE_ID, "reference_id is required")
        criteria = item.get("subscribe_criteria")
        if not isinstance(criteria, dict):
            raise Refused(SubscribeReason.NOTIFY_DETAILS, "subscribe_criteria is required")
        subscription = _made(sess, peer, transaction_id, reference, criteria,
                             Scope.of(peer.scope) if scope is None else scope)
    except Refused as refused:
        out.update(status=Status.REJECTED.value, status_reason_code=refused.code.value,
                   status_reason_message=str(refused)[:999])
        return out
    out.update(status=Status.SUCCESS.value, subscriptions=[info(subscription)])
    return out


def _made(sess: Session, peer: DciPeer, transaction_id: str, reference: str,
          criteria: dict[str, Any], scope: Scope) -> DciSubscription:
    record_type = str(criteria.get("notify_record_type") or "")
    kind = "Group" if "group" in record_type.lower() else (
        "Person" if any(w in record_type.lower() for w in ("person", "member")) else None)
    if kind is None or (kind == "Group" and not scope.household):
        raise Refused(SubscribeReason.NOTIFY_TYPES, "notify_record_type is Person or Member "
                      "(or Group, with the dci.household scope)")
    event_type = criteria.get("reg_event_type")
    if not isinstance(event_type, str) or not 0 < len(event_type) <= 99:
        raise Refused(SubscribeReason.NOTIFY_TYPES, "reg_event_type is required")
    target = _target(sess, criteria.get("filter_type"), criteria.get("filter"))
    if ("household_id" in target or "region_prefix" in target) and not scope.household:
        raise Refused(SubscribeReason.NOTIFY_DETAILS, "this peer's scope follows people by "
                      "NationalID only (family cards and areas need dci.household)")
    filter_text = json.dumps(criteria.get("filter"), sort_keys=True)
    same = sess.execute(select(DciSubscription.code).where(
        DciSubscription.peer_id == peer.sender_id, DciSubscription.status == LIVE,
        DciSubscription.filter == filter_text,
        DciSubscription.notify_record_type == record_type)).first()
    if same is not None:
        raise Refused(SubscribeReason.ALREADY_SUBSCRIBED, f"subscription {same[0]} already "
                      "follows these records")
    subscription = DciSubscription(code=new_id(), peer_id=peer.sender_id,
                                   transaction_id=transaction_id, reference_id=reference,
                                   reg_event_type=event_type, notify_record_type=record_type,
                                   filter=filter_text, status=LIVE,
                                   scope=" ".join(sorted(scope.names)), **target)
    sess.add(subscription)
    sess.flush()
    return subscription


def _target(sess: Session, filter_type: Any, value: Any) -> dict[str, Any]:
    if filter_type == "idtype-value" and isinstance(value, dict):
        id_type = mapping.ID_TYPES.get(str(value.get("type", "")).lower())
        number = value.get("value")
        if id_type is not None and isinstance(number, str) and 0 < len(number) <= 32:
            if id_type == mapping.NATIONAL_ID:
                found = sess.execute(select(Citizen.id).where(
                    Citizen.national_number == number)).scalar_one_or_none()
                if found is None:
                    raise Refused(SubscribeReason.PERSON_ID, "no person has that NationalID")
                return {"citizen_id": found}
            family = sess.execute(select(Household.id).where(
                Household.family_card_number == number)).scalar_one_or_none()
            if family is None:
                raise Refused(SubscribeReason.NOTIFY_DETAILS, "no family card has that number")
            return {"household_id": family}
    if filter_type == "predicate" and isinstance(value, list) and len(value) == 1 \
            and isinstance(value[0], dict) and isinstance(value[0].get("expression1"), dict):
        expression = value[0]["expression1"]
        region = expression.get("attribute_value")
        if expression.get("attribute_name") == "region_code" and \
                expression.get("operator") == "eq" and isinstance(region, str) and \
                region.isdigit() and 2 <= len(region) <= 10:
            return {"region_prefix": region}
    raise Refused(SubscribeReason.NOTIFY_DETAILS, "filter: idtype-value (NationalID or "
                  "FamilyCard) or one region_code eq predicate")


def info(subscription: DciSubscription) -> dict[str, Any]:
    """`SubscriptionInfo`."""
    return {"version": "1.0.0", "code": subscription.code, "status": subscription.status,
            "timestamp": timestamp(subscription.created_at), "reg_type": mapping.REG_TYPE,
            "reg_event_type": subscription.reg_event_type,
            "notify_record_type": subscription.notify_record_type}


def unsubscribe(sess: Session, peer: DciPeer, codes: Any
                ) -> tuple[Status, UnsubscribeReason | None, list[dict[str, str]]]:
    """End the peer's subscriptions named; the overall status, the first refusal's
    reason, and each code's status."""
    if not isinstance(codes, list) or not codes or len(codes) > 100:
        return Status.REJECTED, UnsubscribeReason.SUBSCRIPTION_CODE, []
    reason = None
    statuses = []
    for code in codes:
        row = sess.get(DciSubscription, code) if isinstance(code, str) and len(code) <= 40 \
            else None
        if row is None or row.peer_id != peer.sender_id:
            reason = reason or UnsubscribeReason.SUBSCRIPTION_CODE
            continue
        if row.status == ENDED:
            reason = reason or UnsubscribeReason.ALREADY_UNSUBSCRIBED
        row.status = ENDED
        row.ended_at = row.ended_at or dt.datetime.now(dt.UTC)
        statuses.append({"code": row.code, "status": ENDED})
    return (Status.REJECTED if reason else Status.SUCCESS), reason, statuses


def matching(sess: Session, citizen_ids: list[int]) -> list[tuple[DciSubscription, int]]:
    """(live subscription, citizen id) pairs for the people changed."""
    if not citizen_ids:
        return []
    people = sess.execute(
        select(Citizen.id, Citizen.region_code, HouseholdMember.household_id)
        .outerjoin(HouseholdMember, HouseholdMember.citizen_id == Citizen.id)
        .where(Citizen.id.in_(citizen_ids))).all()
    found = []
    for citizen_id, region, household_id in people:
        conditions = [DciSubscription.citizen_id == citizen_id]
        if household_id is not None:
            conditions.append(DciSubscription.household_id == household_id)
        # Area subscriptions are few (one per peer and area): their prefix is checked here.
        conditions.append(DciSubscription.region_prefix.is_not(None))
        rows = sess.execute(select(DciSubscription).where(
            DciSubscription.status == LIVE, or_(*conditions))).scalars()
        found += [(s, citizen_id) for s in rows
                  if s.region_prefix is None or region.startswith(s.region_prefix)]
    return found
