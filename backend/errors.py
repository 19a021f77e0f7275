"""Refusals as values: every API error is JSON with a machine-readable reason."""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import DataError, OperationalError
from werkzeug.exceptions import HTTPException

from backend.reasons import Reason

log = logging.getLogger(__name__)

_HTTP_REASONS = {
    400: Reason.MALFORMED_JSON,
    401: Reason.AUTHENTICATION_REQUIRED,
    403: Reason.FORBIDDEN,
    404: Reason.NOT_FOUND,
    405: Reason.METHOD_NOT_ALLOWED,
    409: Reason.CONFLICT,
    413: Reason.PAYLOAD_TOO_LARGE,
    415: Reason.UNSUPPORTED_MEDIA_TYPE,
    429: Reason.RATE_LIMITED,
    503: Reason.SERVICE_UNAVAILABLE,
}


class ApiError(Exception):
    """A refusal: raise it anywhere below a view; the hub rolls back and answers JSON."""

    def __init__(self, reason: Reason | StrEnum, message: str, status: int = 400,
                 details: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
                 audited: bool = False) -> None:
        """`audited`: the code that refuses has written this refusal's own audit record
        (a failed sign-in names the account tried), so the generic one is not written."""
        super().__init__(message)
        # A programme module's own reason (`ServiceModule.reasons`) stays as it is.
        self.reason = reason if isinstance(reason, StrEnum) else Reason(reason)
        self.message = message
        self.status = status
        self.details = details or {}
        self.headers = headers or {}
        self.audited = audited

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"reason": self.reason.value, "message": self.message}
        if self.details:
            body["details"] = self.details
        return {"error": body}


def error_response(error: ApiError) -> ResponseReturnValue:
    return jsonify(error.to_dict()), error.status, error.headers


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(error: ApiError) -> ResponseReturnValue:
        return error_response(error)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> ResponseReturnValue:
        status = error.code or 500
        reason = _HTTP_REASONS.get(status, Reason.INTERNAL_ERROR)
        headers = {}
        if status == 405 and error.valid_methods:  # type: ignore[attr-defined]
            headers["Allow"] = ", ".join(error.valid_methods)  # type: ignore[attr-defined]
        return error_response(ApiError(reason, error.description or error.name, status,
                                       headers=headers))

    @app.errorhandler(OperationalError)
    def _database_unavailable(error: OperationalError) -> ResponseReturnValue:
        # The database went away under the request (restart, failover, network): its
        # transaction did not commit, or the answer to COMMIT was lost; either way a
        # retry with the same Idempotency-Key is safe, so say "retry", not "broken".
        log.warning("database unavailable: %s", error.orig)
        return error_response(ApiError(Reason.SERVICE_UNAVAILABLE, "database unavailable, "
                                       "retry", 503, headers={"Retry-After": "1"}))

    @app.errorhandler(DataError)
    def _data_error(error: DataError) -> ResponseReturnValue:
        # A value the schema let through but the database cannot store (out of range,
        # too long): the caller's input, so a 400 with nothing written.
        log.info("database refused a value: %s", error.orig)
        return error_response(ApiError(Reason.VALIDATION_FAILED, "a value is out of range "
                                       "for what can be stored", 400))

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> ResponseReturnValue:
        log.exception("unhandled error")
        return error_response(ApiError(Reason.INTERNAL_ERROR, "internal error", 500))
