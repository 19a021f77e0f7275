"""One way to declare an endpoint: path, body and query models, who may call it.

The decorator validates input with pydantic (unknown fields refused), checks the
caller against the Requirement, runs the view, commits once at the boundary and
records the operation for the OpenAPI document, so the document cannot drift.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from backend.auth.principal import (
    ASSURANCE_ORDER,
    Principal,
    Requirement,
    resolve,
)
from backend.db import opened_session, session
from backend.errors import ApiError
from backend.reasons import Reason

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 1 << 20
# The largest integer both databases hold (PostgreSQL BIGINT, SQLite INTEGER): a larger
# id or sequence number in a request names nothing and must not reach SQL.
MAX_INT = 2**63 - 1


class StrictModel(BaseModel):
    """Base for request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OutModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    @field_validator("*", mode="after")
    @classmethod
    def _zoned(cls, value: Any) -> Any:
        """SQLite gives timestamps back without their zone; the hub stores UTC, so say so:
        the document promises RFC 3339 date-times, and those carry an offset."""
        if isinstance(value, datetime) and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


@dataclass(frozen=True)
class Header:
    """A request header a view reads itself, for the OpenAPI document."""

    name: str
    description: str
    pattern: str | None = None
    required: bool = False


@dataclass
class Operation:
    path: str
    method: str
    summary: str
    endpoint: str
    tags: tuple[str, ...]
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    auth: Requirement
    reasons: tuple[Reason, ...]
    content_type: str = "application/json"
    description: str = ""
    # A body the view reads itself (to give its own refusal reasons), documented only,
    # sent as `doc_body_type`.
    doc_body: type[BaseModel] | None = None
    doc_body_type: str = "application/json"
    headers: tuple[Header, ...] = ()
    # The shape of this endpoint's 4xx bodies when a standard fixes it (OAuth2 token
    # errors); None: the hub's usual Error.
    errors: type[BaseModel] | None = None


OPERATIONS: list[Operation] = []
RefusalHook = Callable[[Principal | None, Operation, ApiError], None]
REFUSAL_HOOKS = "satukartu.refusal_hooks"


def add_refusal_hook(app: Flask, hook: RefusalHook) -> None:
    """Have `hook` told of every refusal `app` answers (the audit log, a nonce to burn);
    kept in `app.extensions`, so two apps in one process never share."""
    hooks = app.extensions.setdefault(REFUSAL_HOOKS, [])
    if hook not in hooks:
        hooks.append(hook)


@dataclass
class Api:
    """A Blueprint under /api/v1 whose routes are described in the OpenAPI document."""

    name: str
    url_prefix: str = ""
    tag: str = ""
    blueprint: Blueprint = field(init=False)

    def __post_init__(self) -> None:
        self.blueprint = Blueprint(f"api_{self.name}", __name__,
                                   url_prefix="/api/v1" + self.url_prefix)
        self.tag = self.tag or self.name

    def route(self, rule: str, method: str = "GET", *, summary: str,
              auth: Requirement, body: type[BaseModel] | None = None,
              query: type[BaseModel] | None = None, response: type[BaseModel] | None = None,
              status: int = 200, reasons: tuple[Reason, ...] = (),
              content_type: str = "application/json",
              doc_body: type[BaseModel] | None = None,
              doc_body_type: str = "application/json", headers: tuple[Header, ...] = (),
              errors: type[BaseModel] | None = None) -> Callable:
        def decorator(view: Callable) -> Callable:
            op = Operation(path="/api/v1" + self.url_prefix + rule, method=method.lower(),
                           summary=summary, endpoint=f"{self.blueprint.name}.{view.__name__}",
                           tags=(self.tag,), body=body, query=query, response=response,
                           status=status, auth=auth, reasons=reasons,
                           content_type=content_type, description=(view.__doc__ or "").strip(),
                           doc_body=doc_body, doc_body_type=doc_body_type, headers=headers,
                           errors=errors)
            OPERATIONS.append(op)
            wrapped = _wrap(view, op)
            self.blueprint.add_url_rule(rule, view.__name__, wrapped, methods=[method])
            return view
        return decorator


def _wrap(view: Callable, op: Operation) -> Callable:
    @functools.wraps(view)
    def handler(**path_args: Any) -> Any:
        principal = None
        try:
            principal = authenticate(op.auth)
            check(op.auth, principal)
            kwargs = dict(path_args)
            if op.body is not None:
                kwargs["body"] = parse_body(op.body)
            if op.query is not None:
                kwargs["query"] = parse_model(op.query, query_args())
            result = view(**kwargs)
            response = to_response(result, op)
            commit()
            return response
        except ApiError as error:
            _roll_back()
            # The caller as last judged: a view that judged its terminal itself and
            # refused it (backend.identity.resolver.judge_terminal) leaves nobody.
            if g.get("principal") is None:
                principal = None
            for hook in current_app.extensions.get(REFUSAL_HOOKS, ()):
                hook(principal, op, error)
            raise
        except DataError:
            _roll_back()  # a value the database refused at flush: answered 400 (errors.py)
            raise
    return handler


def _roll_back() -> None:
    """End the refused request's transaction here, so that its session, failed at a
    flush or not, is never handed on in that state."""
    sess = opened_session()
    if sess is not None:
        sess.rollback()


def commit() -> None:
    """Commit the request's transaction; a request that opened no session has none."""
    if opened_session() is None:
        return
    try:
        session().commit()
    except IntegrityError as exc:
        session().rollback()
        log.info("integrity error at commit: %s", exc.orig)
        raise ApiError(Reason.CONFLICT, "the change conflicts with existing data", 409) from exc
    except OperationalError as exc:
        session().rollback()
        log.warning("database unavailable at commit: %s", exc.orig)
        raise ApiError(Reason.SERVICE_UNAVAILABLE, "database unavailable, retry", 503,
                       headers={"Retry-After": "1"}) from exc


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate(requirement: Requirement) -> Principal | None:
    g.principal = None  # never inherit a caller from an earlier request in this context
    token = bearer_token()
    if token is None:
        if requirement.public:
            return None
        raise ApiError(Reason.AUTHENTICATION_REQUIRED, "a bearer token is required", 401,
                       headers={"WWW-Authenticate": "Bearer"})
    principal = resolve(token, request)
    if principal is not None:
        g.principal = principal
        return principal
    if requirement.public:
        return None
    raise ApiError(Reason.TOKEN_INVALID, "the bearer token is not valid", 401,
                   headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


def check(requirement: Requirement, principal: Principal | None) -> None:
    """Refuse a caller the endpoint (or a programme's action) does not admit; the
    reason says what was missing. This is the only place the rule is written."""
    if requirement.public:
        return
    assert principal is not None
    if principal.kind == "staff":
        if principal.role not in requirement.roles:
            raise ApiError(Reason.ROLE_NOT_ALLOWED, f"role {principal.role} may not do this",
                           403, {"allowed": list(requirement.roles)})
        return
    if principal.role not in requirement.terminal_kinds:
        raise ApiError(Reason.TERMINAL_KIND_NOT_ALLOWED,
                       f"a {principal.role} terminal may not do this", 403,
                       {"allowed": list(requirement.terminal_kinds)})
    if requirement.card:
        if principal.card is None:
            raise ApiError(Reason.FORBIDDEN, "this needs a citizen's card session", 403)
        needed = requirement.assurance or "tap"
        if ASSURANCE_ORDER[principal.card.assurance] < ASSURANCE_ORDER[needed]:
            raise ApiError(Reason.ASSURANCE_TOO_LOW, "this needs the card's PIN", 403,
                           {"needed": needed})


def parse_body(model: type[BaseModel]) -> BaseModel:
    if request.content_length and request.content_length > MAX_BODY_BYTES:
        raise ApiError(Reason.PAYLOAD_TOO_LARGE, "the body is too large", 413)
    if not request.is_json:
        raise ApiError(Reason.UNSUPPORTED_MEDIA_TYPE, "send application/json", 415)
    data = request.get_json(silent=True)
    if data is None:
        raise ApiError(Reason.MALFORMED_JSON, "the body is not valid JSON", 400)
    return parse_model(model, data)


def query_args() -> dict[str, str]:
    """The query's parameters, each given once: a repeated one is refused, not read as
    its first value, so a caller never has one of its values silently dropped."""
    repeated = sorted(k for k, values in request.args.lists() if len(values) > 1)
    if repeated:
        raise ApiError(Reason.VALIDATION_FAILED, "a query parameter is given more than once",
                       400, {"errors": [{"field": k, "problem": "given more than once",
                                         "type": "repeated"} for k in repeated]})
    return request.args.to_dict()


def parse_model(model: type[BaseModel], data: Any) -> BaseModel:
    if not isinstance(data, dict):
        raise ApiError(Reason.VALIDATION_FAILED, "expected a JSON object", 400)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [{"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"],
                   "type": e["type"]} for e in exc.errors(include_url=False)]
        unknown = any(e["type"] == "extra_forbidden" for e in errors)
        reason = Reason.UNKNOWN_FIELD if unknown else Reason.VALIDATION_FAILED
        raise ApiError(reason, "the request does not have the expected shape", 400,
                       {"errors": errors}) from exc


def to_response(result: Any, op: Operation) -> Response:
    if isinstance(result, Response):
        return result
    status = op.status
    if isinstance(result, tuple):
        result, status = result
    if isinstance(result, BaseModel):
        payload = result.model_dump(mode="json")
    elif op.response is not None and result is not None and not isinstance(result, dict | list):
        payload = op.response.model_validate(result).model_dump(mode="json")
    else:
        payload = result
    if status == 204:
        return Response(status=204)
    response = jsonify(payload)
    response.status_code = status
    return response
