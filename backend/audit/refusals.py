"""Refusals are audited too: the API's refusal hook writes one record per refusal, and
a screen refusing a citizen itself (the kiosk's documents, a filing refused at a
screen) writes one the same way.

The request's own transaction was rolled back with the refusal, so the record is
written in a transaction of its own; failing to write it must not hide the refusal.
A screen's record is chained at once, so the screen knows its number: an appeal
names the refusal by it (backend.grievances.subjects).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import request
from sqlalchemy.exc import SQLAlchemyError

from backend.api.routing import Operation
from backend.audit.append import head
from backend.audit.record import record
from backend.auth.principal import Principal
from backend.db import database
from backend.errors import ApiError

log = logging.getLogger(__name__)


def refusal_action(op: Operation) -> str:
    """`api.<domain>.<view>`, e.g. api.cards.token for a refused card authentication."""
    return "api." + op.endpoint.removeprefix("api_")


def refusal_details(error: ApiError, path_args: dict[str, str] | None = None
                    ) -> dict[str, Any]:
    """What a refusal record says besides its reason: the request, and what was asked."""
    details: dict[str, Any] = {"method": request.method, "path": request.path,
                               "status": error.status, "message": error.message,
                               "remote_addr": request.remote_addr}
    if path_args:
        details["path_args"] = path_args
    if error.details:
        details["error"] = error.details
    return details


def record_refusal(principal: Principal | None, op: Operation, error: ApiError) -> None:
    if error.audited:
        return  # the refusing code wrote a record of its own
    details = refusal_details(error, {k: str(v) for k, v in (request.view_args or {}).items()})
    try:
        with database().transaction() as sess:
            record(sess, action=refusal_action(op), outcome=error.reason.value,
                   details=details, principal=principal)
    except SQLAlchemyError:
        log.exception("could not record the refusal of %s %s", request.method, request.path)


def record_screen_refusal(principal: Principal | None, action: str, error: ApiError,
                          path_args: dict[str, str] | None = None) -> int | None:
    """Record a refusal a screen gave (`action`: `<screen>.<domain>.<what>`), chained now
    in a transaction of its own; its sequence number, or None if it could not be
    written (the refusal is shown all the same)."""
    try:
        with database().transaction() as sess:
            conn = sess.connection()
            record(conn, action=action, outcome=error.reason.value,
                   details=refusal_details(error, path_args), principal=principal)
            return head(conn)[0]  # the chain's lock is held: the head is this record
    except SQLAlchemyError:
        log.exception("could not record the refusal of %s %s", request.method, request.path)
        return None
