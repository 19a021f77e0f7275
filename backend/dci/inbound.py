"""Callbacks from the registries we pull from: `/dci/pull/registry/{notify,on-subscribe,
on-unsubscribe}`.

`satukartu registry pull` subscribes at a peer to the changes of what it imported; the
peer then posts its notifications here (the URI we are registered with at the peer is
`{origin}/dci/pull`). Not `/dci/registry/notify`: that one serves the peers that call
us, with our bearer tokens, and a peer answering our subscription holds none of ours
(SatuKartu's own callbacks carry no token either, MAPPING.md). Here the signature is
the proof: the sender must be a peer registered with us (its JWKS), named in
`SATUKARTU_DCI_PULL_PEERS` (registering a peer lets it read our registry; only this
setting lets it write to it), the message meant for us, signed by one of its keys, and
new (its message_id is kept, as a `DciTransaction`, so a replay is refused).

A notification's records are imported as a pull's are (`pull.import_record`): all of
them or, on any fault, none, the message refused with the standard's error.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import select

from backend.api.routing import commit
from backend.audit import record
from backend.db import session
from backend.dci import envelope, outbox, peers, pull, signing
from backend.dci.envelope import Envelope, EnvelopeError, ErrorCode, Status, ack_body, new_id
from backend.dci.mapping import MappingError
from backend.dci.models import DciPeer, DciTransaction
from backend.errors import ApiError
from backend.registry.history import Actor

blueprint = Blueprint("dci_pull", __name__, url_prefix="/dci/pull")
MAX_BODY_BYTES = 4 << 20
MAX_EVENTS = 1000
PATHS = {"notify": "/registry/notify", "on-subscribe": "/registry/on-subscribe",
         "on-unsubscribe": "/registry/on-unsubscribe"}


def init_app(app: Any) -> None:
    app.register_blueprint(blueprint)


@blueprint.errorhandler(EnvelopeError)
def _refused(error: EnvelopeError) -> tuple[Response, int]:
    session().rollback()
    if error.status in (401, 403):
        return jsonify(envelope.http_error_body(error)), error.status
    return jsonify(ack_body(new_id(), error=error)), error.status


def _source(sender_id: str) -> DciPeer:
    peer = session().get(DciPeer, sender_id)
    if peer is None or not peer.enabled or \
            sender_id not in current_app.config["DCI_PULL_PEERS"]:
        raise EnvelopeError(ErrorCode.FORBIDDEN, "we pull from no such registry", 403)
    return peer


def _receive(action: str) -> tuple[DciPeer, Envelope]:
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise EnvelopeError(ErrorCode.BAD, "the body is too large", 413)
    body = request.get_json(silent=True) if request.is_json else None
    if body is None:
        raise EnvelopeError(ErrorCode.BAD, "send the envelope as application/json")
    received = envelope.parse(body, action, receiver_id=outbox.sender_id(current_app.config))
    peer = _source(received.sender_id)
    try:
        signing.verify(received.signature, received.header, received.message,
                       lambda sender, key: peers.public_key(peer, sender, key))
    except signing.SignatureError as exc:
        code = ErrorCode.SIGNATURE_MISSING if exc.missing else ErrorCode.SIGNATURE_INVALID
        raise EnvelopeError(code, str(exc)) from exc
    sess = session()
    if sess.execute(select(DciTransaction.correlation_id).where(
            DciTransaction.peer_id == peer.sender_id,
            DciTransaction.message_id == received.message_id)).first() is not None:
        raise EnvelopeError(ErrorCode.BAD, "this message_id was received already", 409)
    return peer, received


def _kept(peer: DciPeer, received: Envelope) -> str:
    """The message kept under a new correlation id (its id, against replays)."""
    correlation_id = new_id()
    transaction_id = str(received.message.get("transaction_id") or "")[:envelope.MAX_ID]
    session().add(DciTransaction(
        correlation_id=correlation_id, peer_id=peer.sender_id,
        message_id=received.message_id, transaction_id=transaction_id,
        action=received.action, status=Status.SUCCESS.value, references="{}",
        request="{}"))
    return correlation_id


def _events(message: dict[str, Any]) -> list[tuple[str, Any]]:
    events = message.get("notify_event")
    if not isinstance(events, list) or not events or len(events) > MAX_EVENTS:
        raise EnvelopeError(ErrorCode.BAD, f"notify_event is a list of 1 to {MAX_EVENTS}")
    found = []
    for event in events:
        data = event.get("data") if isinstance(event, dict) else None
        if not isinstance(data, dict):
            raise EnvelopeError(ErrorCode.BAD, "each notify_event needs its data")
        kind = "Group" if "group" in str(data.get("reg_record_type", "")).lower() else "Person"
        records = data.get("reg_records")
        for item in records if isinstance(records, list) else [records]:
            found.append((kind, item))
    return found


@blueprint.route("/registry/notify", methods=["POST"])
def notify() -> Response:
    peer, received = _receive("notify")
    actor = Actor("system", f"dci:{peer.sender_id}")
    counts = pull.Counts()
    try:
        for kind, item in _events(received.message):
            pull.import_record(session(), kind, item, actor, counts)
    except (MappingError, pull.PullConflict) as exc:
        raise EnvelopeError(ErrorCode.BAD, f"a record cannot be taken: {exc}") from exc
    except ApiError as exc:
        raise EnvelopeError(ErrorCode.BAD, f"a record cannot be taken: {exc.message}") from exc
    correlation_id = _kept(peer, received)
    record(session(), action="dci.pull.notified", subject_type="dci_peer",
           subject_id=peer.sender_id, principal=peers.principal(peer),
           details={"message_id": received.message_id, **counts.as_dict()})
    commit()
    return jsonify(ack_body(correlation_id))


def _answered(action: str) -> Response:
    peer, received = _receive(action)
    correlation_id = _kept(peer, received)
    answers = received.message.get("subscribe_response") or received.message.get(
        "subscription_status") or []
    statuses = [{k: a.get(k) for k in ("status", "status_reason_code")}
                for a in answers if isinstance(a, dict)] if isinstance(answers, list) else []
    record(session(), action=f"dci.pull.{action}", subject_type="dci_peer",
           subject_id=peer.sender_id, principal=peers.principal(peer),
           details={"message_id": received.message_id, "status": received.header["status"],
                    "answers": statuses[:20]})
    commit()
    return jsonify(ack_body(correlation_id))


@blueprint.route("/registry/on-subscribe", methods=["POST"])
def on_subscribe() -> Response:
    return _answered("on-subscribe")


@blueprint.route("/registry/on-unsubscribe", methods=["POST"])
def on_unsubscribe() -> Response:
    return _answered("on-unsubscribe")
