"""The SPDCI message envelope: `{signature, header, message}`, its ids and its codes.

Pure data, no Flask and no database: the server's views, its Celery callbacks and the
future `registry pull` client all read and write envelopes through this module, so the
header rules are written once. The enumerations are the document's own
(social_api_v1.0.0.yaml: `Error.code`, `MsgHeaderStatusReasonCode`, the request
statuses and each operation's status reason codes).

A refusal of the envelope itself is an `EnvelopeError`: the standard's `Error` code, a
message, and the HTTP status. `ack_body` and `http_error_body` give the two shapes the
document answers with (`Response` for the acknowledgement, `HttpErrorResponse` for 401
and 403).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

VERSION = "1.0.0"
MAX_ID = 99  # transaction_id, correlation_id, subscription codes: maxLength 99


class ErrorCode(StrEnum):
    """`Error.code`: the message could not be taken at all."""

    BAD = "err.request.bad"
    UNAUTHORIZED = "err.request.unauthorized"
    FORBIDDEN = "err.request.forbidden"
    NOT_FOUND = "err.request.not_found"
    VERSION = "err.version.not_supported"
    TOO_MANY = "err.request.too_many_requests"
    SENDER_ID = "err.sender_id.invalid"
    SENDER_URI = "err.sender_uri.invalid"
    RECEIVER_ID = "err.receiver_id.invalid"
    SIGNATURE_MISSING = "err.signature.missing"
    SIGNATURE_INVALID = "err.signature.invalid"
    ENCRYPTION = "err.encryption.invalid"
    UNAVAILABLE = "err.service.unavailable"


class Status(StrEnum):
    RECEIVED = "rcvd"
    PENDING = "pdng"
    SUCCESS = "succ"
    REJECTED = "rjct"


class HeaderReason(StrEnum):
    VERSION = "rjct.version.invalid"
    MESSAGE_ID_DUPLICATE = "rjct.message_id.duplicate"
    MESSAGE_TS = "rjct.message_ts.invalid"
    ACTION = "rjct.action.invalid"
    ACTION_NOT_SUPPORTED = "rjct.action.not_supported"
    TOTAL_COUNT = "rjct.total_count.invalid"
    TOTAL_COUNT_LIMIT = "rjct.total_count.limit_exceeded"
    TOO_MANY_ERRORS = "rjct.errors.too_many"


class SearchReason(StrEnum):
    REFERENCE_ID = "rjct.reference_id.invalid"
    REFERENCE_ID_DUPLICATE = "rjct.reference_id.duplicate"
    TIMESTAMP = "rjct.timestamp.invalid"
    CRITERIA = "rjct.search_criteria.invalid"
    FILTER = "rjct.filter.invalid"
    SORT = "rjct.sort.invalid"
    PAGINATION = "rjct.pagination.invalid"
    TOO_MANY_RECORDS = "rjct.search.too_many_records_found"


class SubscribeReason(StrEnum):
    REFERENCE_ID = "rjct.reference_id.invalid"
    REFERENCE_ID_DUPLICATE = "rjct.reference_id.duplicate"
    TIMESTAMP = "rjct.timestamp.invalid"
    NOTIFY_TYPES = "rjct.notify_types.invalid"
    NOTIFY_DETAILS = "rjct.notify_details.invalid"
    PERSON_ID = "rjct.person_id.invalid"
    ALREADY_SUBSCRIBED = "rjct.event.already_subscribed"


class UnsubscribeReason(StrEnum):
    REFERENCE_ID = "rjct.reference_id.invalid"
    REFERENCE_ID_DUPLICATE = "rjct.reference_id.duplicate"
    TIMESTAMP = "rjct.timestamp.invalid"
    SUBSCRIPTION_CODE = "rjct.subscription_code.invalid"
    REQUESTER = "rjct.requester.invalid"
    ALREADY_UNSUBSCRIBED = "rjct.event.already_unsubscribed"


# Each endpoint (path below /dci) and the header action it takes.
ACTIONS = {
    "/registry/search": "search",
    "/registry/on-search": "on-search",
    "/registry/subscribe": "subscribe",
    "/registry/on-subscribe": "on-subscribe",
    "/registry/notify": "notify",
    "/registry/unsubscribe": "unsubscribe",
    "/registry/on-unsubscribe": "on-unsubscribe",
    "/registry/txn/status": "txn-status",
    "/registry/txn/on-status": "txn-on-status",
    "/registry/sync/search": "search",
    "/registry/sync/txn/status": "txn-status",
}
# A request's action -> the callback that answers it, and where the callback is posted
# (below the peer's callback URI).
CALLBACK = {"search": "on-search", "subscribe": "on-subscribe",
            "unsubscribe": "on-unsubscribe", "txn-status": "txn-on-status"}
CALLBACK_PATH = {"on-search": "/registry/on-search", "on-subscribe": "/registry/on-subscribe",
                 "on-unsubscribe": "/registry/on-unsubscribe",
                 "txn-on-status": "/registry/txn/on-status", "notify": "/registry/notify"}
# Callback headers (MsgCallbackHeader) carry a status; request headers a sender_uri.
CALLBACK_ACTIONS = frozenset({"on-search", "on-subscribe", "on-unsubscribe",
                              "txn-on-status", "notify"})


class EnvelopeError(Exception):
    """The envelope is refused as a whole: the standard's code, why, the HTTP status."""

    def __init__(self, code: ErrorCode, message: str, status: int = 400,
                 header_reason: HeaderReason | None = None) -> None:
        """`header_reason`: the header's own reason code, for a synchronous endpoint,
        whose refusal is an answering header with status rjct, not an acknowledgement."""
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.header_reason = header_reason


@dataclass(frozen=True)
class Envelope:
    signature: str | None
    header: dict[str, Any]
    message: dict[str, Any]

    @property
    def sender_id(self) -> str:
        return str(self.header["sender_id"])

    @property
    def message_id(self) -> str:
        return str(self.header["message_id"])

    @property
    def action(self) -> str:
        return str(self.header["action"])

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"header": self.header, "message": self.message}
        if self.signature is not None:
            body = {"signature": self.signature, **body}
        return body


def new_id() -> str:
    """A message, correlation or subscription id: random, 32 hex digits."""
    return uuid.uuid4().hex


def timestamp(moment: dt.datetime | None = None) -> str:
    """RFC 3339 in UTC, as every `timestamp` and `message_ts` of the document; a
    naive moment (SQLite gives our stored times without their zone) is UTC."""
    moment = moment or dt.datetime.now(dt.UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_timestamp(value: Any) -> dt.datetime | None:
    """An RFC 3339 date-time with its zone, or None for anything else."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None and "T" in value.upper() else None


def parse(body: Any, action: str, *, receiver_id: str, require_signature: bool = True
          ) -> Envelope:
    """Check an envelope's shape and header for `action`; the message is left to its
    handler (its refusals are per reference, in the callback)."""
    if not isinstance(body, dict):
        raise EnvelopeError(ErrorCode.BAD, "the body is not a JSON object")
    header, message, signature = body.get("header"), body.get("message"), body.get("signature")
    if not isinstance(header, dict):
        raise EnvelopeError(ErrorCode.BAD, "the envelope has no header object")
    if signature is None and require_signature:
        raise EnvelopeError(ErrorCode.SIGNATURE_MISSING, "the envelope is not signed")
    if signature is not None and not isinstance(signature, str):
        raise EnvelopeError(ErrorCode.SIGNATURE_INVALID, "the signature is not a string")
    _check_header(header, action, receiver_id)
    if header.get("is_msg_encrypted") is True:
        raise EnvelopeError(ErrorCode.ENCRYPTION, "encrypted messages are not supported: "
                            "send the message in clear over TLS")
    if not isinstance(message, dict):
        raise EnvelopeError(ErrorCode.BAD, "the envelope has no message object")
    return Envelope(signature, header, message)


def _check_header(header: dict[str, Any], action: str, receiver_id: str) -> None:
    version = header.get("version", VERSION)
    if version != VERSION:
        raise EnvelopeError(ErrorCode.VERSION, f"only version {VERSION} is supported",
                            header_reason=HeaderReason.VERSION)
    for name in ("message_id", "sender_id"):
        value = header.get(name)
        if not isinstance(value, str) or not 0 < len(value) <= MAX_ID:
            raise EnvelopeError(ErrorCode.SENDER_ID if name == "sender_id" else ErrorCode.BAD,
                                f"header.{name} must be a string of 1 to {MAX_ID} characters")
    if parse_timestamp(header.get("message_ts")) is None:
        raise EnvelopeError(ErrorCode.BAD, "header.message_ts must be an RFC 3339 date-time "
                            "with its zone", header_reason=HeaderReason.MESSAGE_TS)
    if header.get("action") != action:
        raise EnvelopeError(ErrorCode.BAD, f"header.action must be {action!r} here",
                            header_reason=HeaderReason.ACTION)
    if action in CALLBACK_ACTIONS:
        if header.get("status") not in set(Status):
            raise EnvelopeError(ErrorCode.BAD, "header.status must be one of rcvd, pdng, "
                                "succ, rjct")
    else:
        total = header.get("total_count")
        if type(total) is not int or total < 0:
            raise EnvelopeError(ErrorCode.BAD, "header.total_count must be a whole number",
                                header_reason=HeaderReason.TOTAL_COUNT)
        uri = header.get("sender_uri")
        if uri is not None and (not isinstance(uri, str) or not uri.startswith(
                ("https://", "http://"))):
            raise EnvelopeError(ErrorCode.SENDER_URI, "header.sender_uri must be an http(s) "
                                "URI")
    receiver = header.get("receiver_id")
    if receiver is not None and receiver != receiver_id:
        raise EnvelopeError(ErrorCode.RECEIVER_ID, f"this registry is {receiver_id!r}")


def request_header(action: str, *, sender_id: str, receiver_id: str, total_count: int,
                   sender_uri: str | None = None) -> dict[str, Any]:
    """A request's header (MsgHeader_V1.0.0), as our client sends it."""
    header: dict[str, Any] = {"version": VERSION, "message_id": new_id(),
                              "message_ts": timestamp(), "action": action,
                              "sender_id": sender_id, "receiver_id": receiver_id,
                              "total_count": total_count, "is_msg_encrypted": False}
    if sender_uri is not None:
        header["sender_uri"] = sender_uri
    return header


def callback_header(action: str, *, sender_id: str, receiver_id: str | None, status: Status,
                    total_count: int, completed_count: int,
                    reason: HeaderReason | None = None, reason_message: str | None = None
                    ) -> dict[str, Any]:
    """A callback's or a synchronous answer's header (MsgCallbackHeader_V1.0.0)."""
    header: dict[str, Any] = {"version": VERSION, "message_id": new_id(),
                              "message_ts": timestamp(), "action": action,
                              "status": status.value, "total_count": total_count,
                              "completed_count": completed_count, "sender_id": sender_id,
                              "is_msg_encrypted": False}
    if receiver_id is not None:
        header["receiver_id"] = receiver_id
    if reason is not None:
        header["status_reason_code"] = reason.value
    if reason_message:
        header["status_reason_message"] = reason_message[:999]
    return header


def ack_body(correlation_id: str, ack: str = "ACK", error: EnvelopeError | None = None
             ) -> dict[str, Any]:
    """The acknowledgement (`Response`): ACK, NACK, or ERR with the standard's error."""
    message: dict[str, Any] = {"ack_status": ack, "timestamp": timestamp(),
                               "correlation_id": correlation_id}
    if error is not None:
        message["ack_status"] = "ERR"
        message["error"] = {"code": error.code.value, "message": error.message[:999]}
    return {"message": message}


def refusal_header(error: EnvelopeError, action: str, *, sender_id: str,
                   receiver_id: str | None) -> dict[str, Any]:
    """A synchronous endpoint's refusal: its answering header, status rjct, the error's
    code in the message (the header's reason codes name only header faults)."""
    return callback_header(action, sender_id=sender_id, receiver_id=receiver_id,
                           status=Status.REJECTED, total_count=0, completed_count=0,
                           reason=error.header_reason,
                           reason_message=f"{error.code.value}: {error.message}")


def http_error_body(error: EnvelopeError) -> dict[str, Any]:
    """`HttpErrorResponse`, for the transport's refusals (401, 403)."""
    return {"errors": [{"code": error.code.value, "message": error.message}]}
