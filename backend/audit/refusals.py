"""Refusals are audited too: the API's refusal hook writes one record per refusal.

The request's own transaction was rolled back with the refusal, so the record is
written in a transaction of its own; failing to write it must not hide the refusal.
"""

from __future__ import annotations

import logging

from flask import request
from sqlalchemy.exc import SQLAlchemyError

from backend.api.routing import Operation
from backend.audit.record import record
from backend.auth.principal import Principal
from backend.db import database
from backend.errors import ApiError

log = logging.getLogger(__name__)


def refusal_action(op: Operation) -> str:
    """`api.<domain>.<view>`, e.g. api.cards.token for a refused card authentication."""
    return "api." + op.endpoint.removeprefix("api_")


def record_refusal(principal: Principal | None, op: Operation, error: ApiError) -> None:
    if error.audited:
        return  # the refusing code wrote a record of its own
    details = {"method": request.method, "path": request.path, "status": error.status,
               "message": error.message, "remote_addr": request.remote_addr}
    if request.view_args:
        details["path_args"] = {k: str(v) for k, v in request.view_args.items()}
    if error.details:
        details["error"] = error.details
    try:
        with database().transaction() as sess:
            record(sess, action=refusal_action(op), outcome=error.reason.value,
                   details=details, principal=principal)
    except SQLAlchemyError:
        log.exception("could not record the refusal of %s %s", request.method, request.path)
