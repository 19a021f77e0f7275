"""The SPDCI Social Registry endpoints under `/dci/`, plus the token and JWKS routes.

Not `backend.api.routing` operations: the standard fixes these paths, their envelope,
their answers and their error shapes (`HttpErrorResponse` for 401/403, the `Response`
acknowledgement with `ack_status: ERR` and the standard's error code otherwise), and
it is the standard's document, not ours, that describes them (`spec.py`).

Every message is checked in the same order (`_receive`): the bearer token names the
peer; the envelope's shape and header; the header's `sender_id` is that peer; the
signature is that peer's; the `message_id` is new. A request then becomes a
`DciTransaction`, acknowledged (202, ACK, its correlation id) and answered by a
Celery callback after commit; the two `sync/` endpoints answer at once, signed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

from backend.api.routing import commit
from backend.audit import record
from backend.db import session
from backend.dci import answers, envelope, oauth, outbox, peers, signing
from backend.dci.envelope import (
    ACTIONS,
    Envelope,
    EnvelopeError,
    ErrorCode,
    Status,
    ack_body,
    callback_header,
    new_id,
)
from backend.dci.models import DciPeer, DciTransaction
from backend.dci.tasks import send_callback
from backend.errors import ApiError, error_response
from backend.identity.oauth import OAuthApiError
from backend.tasks import send_after_commit

blueprint = Blueprint("dci", __name__, url_prefix="/dci")
MAX_BODY_BYTES = 1 << 20
Answer = Callable[..., tuple[dict[str, Any], Status, int]]
# The async requests: what answers each, and the key of its items (for txn/status).
REQUESTS: dict[str, tuple[Answer, str | None]] = {
    "search": (answers.search_message, "search_response"),
    "subscribe": (answers.subscribe_message, "subscribe_response"),
    "unsubscribe": (answers.unsubscribe_message, None),
    "txn-status": (answers.txn_status_message, None),
}
# What a request's message must hold before it is taken (the rest is judged per item).
REQUIRED = {"search": ("search_request", list), "subscribe": ("subscribe_request", list),
            "unsubscribe": ("subscription_codes", list),
            "txn-status": ("txnstatus_request", dict)}
# Callbacks received, for our own client (`registry pull`): action -> handler. Without
# one, a callback is acknowledged and its receipt recorded.
RECEIVERS: dict[str, Callable[[DciPeer, Envelope], None]] = {}


# A hub refusal's HTTP status -> the standard's error code.
API_CODES = {401: ErrorCode.UNAUTHORIZED, 403: ErrorCode.FORBIDDEN, 404: ErrorCode.NOT_FOUND,
             429: ErrorCode.TOO_MANY, 503: ErrorCode.UNAVAILABLE}
log = logging.getLogger(__name__)

# The synchronous endpoints and the action their answer (or refusal) carries.
SYNC = {"dci.sync_search": "on-search", "dci.sync_txn_status": "txn-on-status"}


@blueprint.errorhandler(EnvelopeError)
def _refused(error: EnvelopeError) -> tuple[Response, int]:
    """The document's shapes: HttpErrorResponse for 401 and 403; otherwise the ERR
    acknowledgement, or for a synchronous endpoint its answering header, rjct."""
    session().rollback()
    if error.status in (401, 403):
        return jsonify(envelope.http_error_body(error)), error.status
    if request.endpoint in SYNC:
        body = request.get_json(silent=True) if request.is_json else None
        header = body.get("header") if isinstance(body, dict) else None
        sender = header.get("sender_id") if isinstance(header, dict) else None
        config = current_app.config
        refusal = envelope.refusal_header(error, SYNC[request.endpoint],
                                          sender_id=outbox.sender_id(config),
                                          receiver_id=sender if isinstance(sender, str)
                                          and len(sender) <= envelope.MAX_ID else None)
        return jsonify(outbox.seal(config, refusal, None)), error.status
    return jsonify(ack_body(new_id(), error=error)), error.status


@blueprint.errorhandler(IntegrityError)
def _conflict(error: IntegrityError) -> tuple[Response, int]:
    """Two copies of one message raced past the duplicate check: the unique index
    refused the second; it is refused as the check would have."""
    session().rollback()
    if "message_id" in str(error.orig) or "uq_dci_transactions_message" in str(error.orig):
        return _refused(EnvelopeError(ErrorCode.BAD, "this message_id was received already",
                                      409, header_reason=envelope.HeaderReason
                                      .MESSAGE_ID_DUPLICATE))
    return _refused(EnvelopeError(ErrorCode.BAD, "the message conflicts with what we hold",
                                  409))


@blueprint.errorhandler(ApiError)
def _api_refused(error: ApiError) -> ResponseReturnValue:
    """A refusal from the hub's own code, in the standard's shapes, not the /api one
    (`commit()` turns a lost race on a unique index into a 409 ApiError)."""
    if isinstance(error, OAuthApiError):  # the token endpoint answers as RFC 6749 says
        session().rollback()
        return error_response(error)
    if isinstance(error.__cause__, IntegrityError):
        return _conflict(error.__cause__)
    return _refused(EnvelopeError(API_CODES.get(error.status, ErrorCode.BAD), error.message,
                                  error.status))


@blueprint.errorhandler(OperationalError)
def _unavailable(error: OperationalError) -> tuple[Response, int]:
    log.warning("database unavailable: %s", error.orig)
    return _refused(EnvelopeError(ErrorCode.UNAVAILABLE, "database unavailable, retry", 503))


@blueprint.errorhandler(DataError)
def _unstorable(error: DataError) -> tuple[Response, int]:
    """A value the database cannot hold (a NUL byte, out of range): the sender's."""
    log.info("database refused a value: %s", error.orig)
    return _refused(EnvelopeError(ErrorCode.BAD, "a value cannot be stored or compared", 400))


@blueprint.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> tuple[Response, int]:
    status = error.code or 500
    return _refused(EnvelopeError(API_CODES.get(status, ErrorCode.BAD),
                                  error.description or error.name, status))


@blueprint.errorhandler(Exception)
def _unexpected(error: Exception) -> tuple[Response, int]:
    """A fault nobody foresaw: the standard's shape, never the /api one (a blueprint's
    handlers are looked up before the hub's, so the ones above keep their statuses)."""
    log.exception("SPDCI request failed")
    return _refused(EnvelopeError(ErrorCode.UNAVAILABLE, "internal error", 500))


@blueprint.route("/oauth2/client/token", methods=["POST"])
def token() -> Response:
    """A peer's access token (OAuth2 client credentials), as the terminals get theirs."""
    answer = oauth.token_response(current_app._get_current_object())  # type: ignore[attr-defined]
    commit()
    return answer


@blueprint.route("/.well-known/jwks.json", methods=["GET"])
def jwks() -> Response:
    """Our public signing keys: the current one and the retired ones still verifying."""
    answer = jsonify(outbox.published(current_app.config))
    answer.headers["Cache-Control"] = "public, max-age=300"
    return answer


def _receive(path: str) -> tuple[DciPeer, Envelope]:
    sess = session()
    peer = peers.caller(sess, request.headers.get("Authorization", ""))
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise EnvelopeError(ErrorCode.BAD, "the body is too large", 413)
    body = request.get_json(silent=True) if request.is_json else None
    if body is None:
        raise EnvelopeError(ErrorCode.BAD, "send the envelope as application/json")
    config = current_app.config
    received = envelope.parse(body, ACTIONS[path], receiver_id=outbox.sender_id(config))
    if received.sender_id != peer.sender_id:
        raise EnvelopeError(ErrorCode.SENDER_ID, "header.sender_id is not the peer the "
                            "token was issued to", 403)
    try:
        signing.verify(received.signature, received.header, received.message,
                       lambda sender, key: peers.public_key(peer, sender, key))
    except signing.SignatureError as exc:
        code = ErrorCode.SIGNATURE_MISSING if exc.missing else ErrorCode.SIGNATURE_INVALID
        raise EnvelopeError(code, str(exc)) from exc
    taken = sess.execute(select(DciTransaction.correlation_id).where(
        DciTransaction.peer_id == peer.sender_id,
        DciTransaction.message_id == received.message_id)).first()
    if taken is not None:
        raise EnvelopeError(ErrorCode.BAD, "this message_id was received already", 409,
                            header_reason=envelope.HeaderReason.MESSAGE_ID_DUPLICATE)
    return peer, received


def _checked_request(received: Envelope) -> dict[str, Any]:
    message = received.message
    transaction_id = message.get("transaction_id")
    if not isinstance(transaction_id, str) or not 0 < len(transaction_id) <= envelope.MAX_ID:
        raise EnvelopeError(ErrorCode.BAD, "message.transaction_id must be a string of 1 to "
                            f"{envelope.MAX_ID} characters")
    if received.header["total_count"] > answers.MAX_ITEMS:
        raise EnvelopeError(ErrorCode.BAD, f"at most {answers.MAX_ITEMS} requests per message",
                            header_reason=envelope.HeaderReason.TOTAL_COUNT_LIMIT)
    name, kind = REQUIRED[received.action]
    if not isinstance(message.get(name), kind) or not message[name]:
        raise EnvelopeError(ErrorCode.BAD, f"message.{name} is required")
    if isinstance(message[name], list) and len(message[name]) > answers.MAX_ITEMS:
        raise EnvelopeError(ErrorCode.BAD, f"at most {answers.MAX_ITEMS} requests per message")
    return message


def _transaction(peer: DciPeer, received: Envelope, correlation_id: str,
                 callback_uri: str | None, keep_request: bool = True) -> DciTransaction:
    """The transaction's row; its request is kept only while a callback must answer it."""
    txn = DciTransaction(correlation_id=correlation_id, peer_id=peer.sender_id,
                         message_id=received.message_id,
                         transaction_id=str(received.message["transaction_id"]),
                         action=received.action, status=Status.PENDING.value,
                         references="{}", callback_uri=callback_uri,
                         scope=peers.token_scope(),
                         request=json.dumps(received.message) if keep_request else "{}")
    session().add(txn)
    return txn


def _callback_uri(peer: DciPeer, received: Envelope) -> str:
    """Where the callback goes: the header's sender_uri, if it is below the peer's
    registered callback URI (never anywhere else), or that URI."""
    uri = received.header.get("sender_uri")
    if uri is None:
        return peer.callback_uri
    uri = str(uri).rstrip("/")
    if uri != peer.callback_uri and not uri.startswith(peer.callback_uri + "/"):
        raise EnvelopeError(ErrorCode.SENDER_URI, "header.sender_uri is not below this "
                            "peer's registered callback URI")
    return uri


def _accept(path: str) -> tuple[Response, int]:
    peer, received = _receive(path)
    message = _checked_request(received)
    correlation_id = new_id()
    txn = _transaction(peer, received, correlation_id, _callback_uri(peer, received),
                       keep_request=received.action == "search")
    build, items = REQUESTS[received.action]
    if received.action != "search":  # no personal data: answered now, sent as made
        answer, status, _count = build(session(), peer, message, correlation_id,
                                       peers.granted(peer, peers.token_scope()))
        txn.answer = json.dumps(answer)
        txn.status = status.value
        txn.references = json.dumps(answers.references(answer, items) if items else {})
    else:
        txn.references = json.dumps({str(i.get("reference_id")): Status.PENDING.value
                                     for i in message["search_request"] if isinstance(i, dict)})
    send_after_commit(session(), send_callback, correlation_id)
    commit()
    return jsonify(ack_body(correlation_id)), 202


def _answer_now(path: str, callback_action: str) -> Response:
    peer, received = _receive(path)
    message = _checked_request(received)
    correlation_id = new_id()
    txn = _transaction(peer, received, correlation_id, None, keep_request=False)
    build, items = REQUESTS[received.action]
    answer, status, count = build(session(), peer, message, correlation_id,
                                  peers.granted(peer, peers.token_scope()))
    txn.status = status.value
    txn.references = json.dumps(answers.references(answer, items) if items else {})
    config = current_app.config
    header = callback_header(callback_action, sender_id=outbox.sender_id(config),
                             receiver_id=peer.sender_id, status=status, total_count=count,
                             completed_count=count)
    body = outbox.seal(config, header, answer)
    commit()
    return jsonify(body)


def _take_callback(path: str) -> Response:
    peer, received = _receive(path)
    handler = RECEIVERS.get(received.action)
    if handler is not None:
        handler(peer, received)
    correlation_id = received.message.get("correlation_id")
    if not isinstance(correlation_id, str) or not 0 < len(correlation_id) <= envelope.MAX_ID:
        correlation_id = new_id()
    # Its message id, kept, so the same callback sent again is refused (`_receive`).
    session().add(DciTransaction(
        correlation_id=new_id(), peer_id=peer.sender_id, message_id=received.message_id,
        transaction_id=str(received.message.get("transaction_id") or "")[:envelope.MAX_ID],
        action=received.action, status=Status.RECEIVED.value, references="{}",
        request="{}"))
    record(session(), action=f"dci.{received.action}.received", subject_type="dci_peer",
           subject_id=peer.sender_id, principal=peers.principal(peer),
           details={"message_id": received.message_id, "status": received.header["status"]})
    commit()
    return jsonify(ack_body(correlation_id))


@blueprint.route("/registry/search", methods=["POST"])
def search() -> tuple[Response, int]:
    return _accept("/registry/search")


@blueprint.route("/registry/subscribe", methods=["POST"])
def subscribe() -> tuple[Response, int]:
    return _accept("/registry/subscribe")


@blueprint.route("/registry/unsubscribe", methods=["POST"])
def unsubscribe() -> tuple[Response, int]:
    return _accept("/registry/unsubscribe")


@blueprint.route("/registry/txn/status", methods=["POST"])
def txn_status() -> tuple[Response, int]:
    return _accept("/registry/txn/status")


@blueprint.route("/registry/sync/search", methods=["POST"])
def sync_search() -> Response:
    return _answer_now("/registry/sync/search", "on-search")


@blueprint.route("/registry/sync/txn/status", methods=["POST"])
def sync_txn_status() -> Response:
    return _answer_now("/registry/sync/txn/status", "txn-on-status")


@blueprint.route("/registry/on-search", methods=["POST"])
def on_search() -> Response:
    return _take_callback("/registry/on-search")


@blueprint.route("/registry/on-subscribe", methods=["POST"])
def on_subscribe() -> Response:
    return _take_callback("/registry/on-subscribe")


@blueprint.route("/registry/on-unsubscribe", methods=["POST"])
def on_unsubscribe() -> Response:
    return _take_callback("/registry/on-unsubscribe")


@blueprint.route("/registry/txn/on-status", methods=["POST"])
def txn_on_status() -> Response:
    return _take_callback("/registry/txn/on-status")


@blueprint.route("/registry/notify", methods=["POST"])
def notify() -> Response:
    return _take_callback("/registry/notify")
