"""Notifications from the registries we pull from, into our registry.

`satukartu registry pull` subscribes at a peer to the changes of what it imported; the
peer then posts its notifications to our `/dci/registry/notify` (below the callback URI
it registered us with), as any callback: with a bearer token of ours (the peer is
registered with us, `satukartu dci peer add`, and holds client credentials here) and
its signature, both checked by the server's route (`views._take_callback`). This
module is that route's receiver for `notify` (`views.RECEIVERS`):

- the peer must be named in `SATUKARTU_DCI_PULL_PEERS`: registering a peer lets it
  read our registry; only this setting lets what it says change it;
- the message must answer a live subscription of ours at that peer
  (`DciPullSubscription`, kept by the pull): its transaction id is our subscribe
  request's, each event's reference id our reference id; else err.request.forbidden;
- its records are imported as a pull's are (`pull.import_record`), inside the
  subscription's region only (a record outside it, or one that would update, bury or
  move off a card anyone of ours outside it: err.request.forbidden): all of them or,
  on any fault, none, the message refused with the standard's error;
- the route keeps its message id (a `DciTransaction`, as for every callback), so the
  same message sent again is refused.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app
from sqlalchemy import select

from backend.audit import record
from backend.db import session
from backend.dci import peers, pull, views
from backend.dci.envelope import Envelope, EnvelopeError, ErrorCode
from backend.dci.mapping import MappingError
from backend.dci.models import DciPeer, DciPullSubscription
from backend.dci.subscriptions import LIVE
from backend.errors import ApiError
from backend.registry.history import Actor

MAX_RECORDS = 1000


def init_app(app: Flask) -> None:
    views.RECEIVERS["notify"] = receive_notify


def receive_notify(peer: DciPeer, received: Envelope) -> None:
    """Import a notification's records in the request's transaction (the route commits)."""
    if peer.sender_id not in current_app.config["DCI_PULL_PEERS"]:
        raise EnvelopeError(ErrorCode.FORBIDDEN, "this registry takes no changes from this "
                            "peer (SATUKARTU_DCI_PULL_PEERS)", 403)
    subscription = _subscription(peer, received.message)
    actor = Actor("system", f"dci:{peer.sender_id}")
    counts = pull.Counts()
    try:
        for kind, item in _records(received.message, subscription.reference_id):
            pull.import_record(session(), kind, item, actor, counts,
                               subscription.region_prefix)
    except pull.OutsideRegion as exc:
        raise EnvelopeError(ErrorCode.FORBIDDEN, f"a record cannot be taken: {exc}",
                            403) from exc
    except (MappingError, pull.PullConflict) as exc:
        raise EnvelopeError(ErrorCode.BAD, f"a record cannot be taken: {exc}") from exc
    except ApiError as exc:
        raise EnvelopeError(ErrorCode.BAD, f"a record cannot be taken: {exc.message}") from exc
    record(session(), action="dci.pull.notified", subject_type="dci_peer",
           subject_id=peer.sender_id, principal=peers.principal(peer),
           details={"message_id": received.message_id,
                    "subscription": subscription.correlation_id, **counts.as_dict()})


def _subscription(peer: DciPeer, message: dict[str, Any]) -> DciPullSubscription:
    """The live subscription of ours at `peer` this notification answers."""
    transaction_id = message.get("transaction_id")
    found = session().scalar(select(DciPullSubscription).where(
        DciPullSubscription.peer_id == peer.sender_id,
        DciPullSubscription.transaction_id == transaction_id,
        DciPullSubscription.status == LIVE)) if isinstance(transaction_id, str) else None
    if found is None:
        raise EnvelopeError(ErrorCode.FORBIDDEN, "this notification answers no live "
                            "subscription of ours at this peer", 403)
    return found


def _records(message: dict[str, Any], reference_id: str) -> list[tuple[str, Any]]:
    """(Group or Person, record) for each record of each event."""
    events = message.get("notify_event")
    if not isinstance(events, list) or not events:
        raise EnvelopeError(ErrorCode.BAD, "notify_event is a list of events")
    found = []
    for event in events:
        data = event.get("data") if isinstance(event, dict) else None
        if not isinstance(data, dict):
            raise EnvelopeError(ErrorCode.BAD, "each notify_event needs its data")
        if event.get("reference_id") != reference_id:
            raise EnvelopeError(ErrorCode.FORBIDDEN, "a notify_event's reference_id is not "
                                "our subscription's", 403)
        kind = "Group" if "group" in str(data.get("reg_record_type", "")).lower() else "Person"
        records = data.get("reg_records")
        for item in records if isinstance(records, list) else [records]:
            found.append((kind, item))
    if len(found) > MAX_RECORDS:
        raise EnvelopeError(ErrorCode.BAD, f"at most {MAX_RECORDS} records per notification")
    return found
