"""Service modules in the hub: the loader, and the API that runs their actions.

The loader finds modules through the `satukartu.services` entry point group, checks
their names and declarations, keeps those enabled by `SATUKARTU_SERVICES` and gives
each its parameters (`SATUKARTU_SERVICES_FILE`, then `SATUKARTU_SERVICE_<KEY>_<PARAM>`).
A module that is misnamed or misdeclared stops the hub at start, never at a citizen's
request. What admins change while the hub runs (enabled, parameters) is kept in the
database and laid over this configuration by `backend.programmes.live`: `modules()`
is always the modules as they are now, in every process of the hub.

Every action runs the same way: authorise (card assurance, terminal kind, staff role),
claim the idempotency key, check eligibility, run the handler, write the audit record,
remember the answer; all in the request's one transaction, committed by the API
wrapper, or rolled back whole on any refusal.
"""

from __future__ import annotations

import copy
import logging
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app, request
from pydantic import BaseModel, SerializerFunctionWrapHandler, model_serializer

from backend.api.routing import Api, Header, OutModel, parse_body
from backend.audiences import Audience, audience_of
from backend.auth.principal import (
    ASSURANCE_ORDER,
    STAFF_ROLES,
    TERMINAL_KINDS,
    Principal,
    Requirement,
    current_principal,
)
from backend.config import ConfigError
from backend.db import session
from backend.errors import ApiError
from backend.ledger import idempotency
from backend.ledger.context import HubContext
from backend.reasons import Reason
from backend.services import (
    ENTRY_POINT_GROUP,
    KEY_PATTERN,
    Action,
    Eligibility,
    NoInput,
    ServiceModule,
    result,
)

if TYPE_CHECKING:
    from backend.programmes.live import LiveProgrammes

log = logging.getLogger(__name__)
EXTENSION = "satukartu.services"
ENV_PREFIX = "SATUKARTU_SERVICE_"
api = Api("services", url_prefix="/services", tag="services")


# loading ------------------------------------------------------------------------------
def discover() -> dict[str, EntryPoint]:
    """Installed modules by entry point name; a bad or doubled name stops the hub."""
    found: dict[str, EntryPoint] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        if not KEY_PATTERN.match(point.name):
            raise ConfigError(f"service entry point {point.name!r}: a key is 2-40 lowercase "
                              "letters, digits or _, starting with a letter")
        if point.name in found and found[point.name].value != point.value:
            raise ConfigError(f"two service modules named {point.name!r}: "
                              f"{found[point.name].value} and {point.value}")
        found[point.name] = point
    return found


@dataclass
class Catalogue:
    """Every installed module as the city's configuration makes it, read once at start.

    The configuration is never read again (a changed file or variable needs a restart,
    as before), so every process of one hub starts from the same catalogue; admins'
    changes are laid over it from the database (`backend.programmes.live`).
    `base` holds each module configured with the city's parameters; `problems` the
    installed modules that could not be (not enabled by SATUKARTU_SERVICES, so they
    did not stop the hub, but they cannot be enabled at run time either).
    """

    exposed: dict[str, Any]
    enabled: tuple[str, ...]
    params: dict[str, dict[str, str]]
    base: dict[str, ServiceModule]
    problems: dict[str, str]

    @property
    def installed(self) -> tuple[str, ...]:
        return tuple(sorted({*self.base, *self.problems}))

    def build(self, key: str, overrides: Mapping[str, str]) -> ServiceModule:
        """A fresh copy of `key` configured with the city's parameters, then `overrides`
        (ValueError names a parameter the module refuses)."""
        if not overrides:
            return self.base[key]
        module = _instantiate(key, self.exposed[key])
        module.configure(self.params.get(key, {}))
        module.configure(overrides)
        return module

    def enabled_modules(self) -> dict[str, ServiceModule]:
        return {key: self.base[key] for key in self.enabled}


def load_catalogue(config: Mapping[str, Any], environ: Mapping[str, str] | None = None
                   ) -> Catalogue:
    """Load and configure every installed module. A module SATUKARTU_SERVICES enables
    that cannot be loaded or configured stops the hub (ConfigError); any other is
    set aside with its problem."""
    installed = discover()
    enabled = tuple(config.get("SERVICES") or sorted(installed))
    missing = sorted(set(enabled) - set(installed))
    if missing:
        raise ConfigError(f"SATUKARTU_SERVICES names modules not installed: {missing}")
    params = _parameters(tuple(sorted(installed)), config,
                         os.environ if environ is None else environ)
    exposed: dict[str, Any] = {}
    base: dict[str, ServiceModule] = {}
    problems: dict[str, str] = {}
    for key in (*enabled, *sorted(set(installed) - set(enabled))):
        try:
            exposed[key] = installed[key].load()
            module = _instantiate(key, exposed[key])
            module.configure(params.get(key, {}))
        except ConfigError as exc:  # misnamed or misdeclared
            if key in enabled:
                raise
            problems[key] = str(exc)
        except ValueError as exc:  # a parameter the module refuses
            if key in enabled:
                raise ConfigError(str(exc)) from exc
            problems[key] = str(exc)
        except Exception as exc:  # a module nobody enabled must not stop the hub
            if key in enabled:
                raise
            problems[key] = f"{key}: cannot be loaded: {exc!r}"
        else:
            base[key] = module
    for key, problem in problems.items():
        log.warning("service %s cannot be enabled: %s", key, problem)
    return Catalogue(exposed, enabled, params, base, problems)


def load_modules(config: Mapping[str, Any], environ: Mapping[str, str] | None = None
                 ) -> dict[str, ServiceModule]:
    """The enabled modules, each a configured copy of what its entry point exposes."""
    return load_catalogue(config, environ).enabled_modules()


def _instantiate(key: str, exposed: Any) -> ServiceModule:
    if isinstance(exposed, type) and issubclass(exposed, ServiceModule):
        exposed = exposed()
    module = copy.copy(exposed)
    if not isinstance(module, ServiceModule):
        raise ConfigError(f"service {key!r}: the entry point must expose a ServiceModule")
    if module.key != key:
        raise ConfigError(f"service {key!r}: the module calls itself {module.key!r}")
    module.config = {name: p.default for name, p in module.params.items()}
    _check_declarations(module)
    return module


def _check_declarations(module: ServiceModule) -> None:
    problems = []
    for name, action in module.actions.items():
        where = f"{module.key}.{name}"
        if not KEY_PATTERN.match(name):
            problems.append(f"{where}: bad action name")
        if action.assurance not in ASSURANCE_ORDER:
            problems.append(f"{where}: assurance must be tap or pin")
        if set(action.terminal_kinds) - set(TERMINAL_KINDS):
            problems.append(f"{where}: unknown terminal kinds")
        if set(action.staff_roles) - set(STAFF_ROLES):
            problems.append(f"{where}: unknown staff roles")
        if not (isinstance(action.input, type) and issubclass(action.input, BaseModel)):
            problems.append(f"{where}: input must be a pydantic model")
        if not action.purpose:
            problems.append(f"{where}: an audit purpose is required")
    for allocation in module.allocations:
        if allocation.purse not in module.purses:
            problems.append(f"{module.key}: allocation to undeclared purse {allocation.purse}")
    if problems:
        raise ConfigError("; ".join(problems))


def _parameters(enabled: tuple[str, ...], config: Mapping[str, Any],
                environ: Mapping[str, str]) -> dict[str, dict[str, str]]:
    params: dict[str, dict[str, str]] = {key: {} for key in enabled}
    if config.get("SERVICES_FILE"):
        for key, values in _services_file(config["SERVICES_FILE"]).items():
            if key in params:
                params[key].update({k: _text(v) for k, v in values.items()})
    longest_first = sorted(enabled, key=len, reverse=True)
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX):].lower()
        key = next((k for k in longest_first if rest.startswith(k + "_")), None)
        if key is not None:
            params[key][rest[len(key) + 1:]] = value
    for key, values in (config.get("SERVICE_PARAMS") or {}).items():
        if key in params:
            params[key].update({k: _text(v) for k, v in values.items()})
    return params


def _services_file(path: str) -> dict[str, dict[str, Any]]:
    """The file's `[key]` tables; a file that cannot be read or is not such tables stops
    the hub with the variable's name."""
    where = "SATUKARTU_SERVICES_FILE"
    try:
        table = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{where}: {path}: {exc}") from exc
    bad = sorted(key for key, values in table.items() if not isinstance(values, dict))
    if bad:
        raise ConfigError(f"{where}: {path}: {', '.join(bad)} must be [tables] of parameters")
    return table


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def init_app(app: Flask) -> None:
    """Load the catalogue now (a bad configuration stops the hub here); the database's
    overrides are read at the first use, so `db upgrade` runs on an empty database."""
    from backend.programmes.live import LiveProgrammes

    if EXTENSION not in app.extensions:
        refresh_ms = app.config.get("PROGRAMME_REFRESH_MS", 1000)
        app.extensions[EXTENSION] = LiveProgrammes(load_catalogue(app.config),
                                                   refresh_ms / 1000)


def live() -> LiveProgrammes:
    """This hub's programmes: the catalogue and what admins changed."""
    return current_app.extensions[EXTENSION]


def modules() -> dict[str, ServiceModule]:
    """The enabled modules as they are now (admins' changes included): the same set for
    the whole of one request, at most `SATUKARTU_PROGRAMME_REFRESH_MS` old."""
    return live().modules()


# authorisation ----------------------------------------------------------------------
def find_action(key: str, name: str) -> tuple[ServiceModule, Action]:
    module = modules().get(key)
    if module is None:
        if key in live().catalogue.installed:
            raise ApiError(Reason.SERVICE_DISABLED, f"{key} is not enabled in this city", 404)
        raise ApiError(Reason.UNKNOWN_SERVICE, f"no service {key!r}", 404)
    action = module.actions.get(name)
    if action is None:
        raise ApiError(Reason.UNKNOWN_ACTION, f"{key} has no action {name!r}", 404,
                       {"actions": sorted(module.actions)})
    return module, action


def authorise(action: Action, principal: Principal) -> int | None:
    """The citizen served (None for staff), or a refusal saying what was missing."""
    if principal.kind == "staff":
        if principal.role not in action.staff_roles:
            raise ApiError(Reason.ROLE_NOT_ALLOWED, f"role {principal.role} may not do this",
                           403)
        return None
    if principal.role not in action.terminal_kinds:
        raise ApiError(Reason.TERMINAL_KIND_NOT_ALLOWED,
                       f"a {principal.role} terminal may not do this", 403,
                       {"allowed": list(action.terminal_kinds)})
    if principal.card is None:
        raise ApiError(Reason.FORBIDDEN, "this needs a citizen's card session", 403)
    if ASSURANCE_ORDER[principal.card.assurance] < ASSURANCE_ORDER[action.assurance]:
        raise ApiError(Reason.ASSURANCE_TOO_LOW, "this needs the card's PIN", 403,
                       {"needed": action.assurance})
    return principal.card.citizen_id


def allowed_here(action: Action, principal: Principal) -> bool:
    try:
        authorise(action, principal)
    except ApiError:
        return False
    return True


def require_eligible(module: ServiceModule, ctx: HubContext) -> Eligibility:
    decision = module.eligibility(ctx, ctx.citizen)
    if not decision.eligible:
        raise ApiError(Reason.NOT_ELIGIBLE, f"not eligible for {module.key}: "
                       f"{decision.reason}", 403,
                       {"eligibility": decision.reason, **dict(decision.details)})
    return decision


# the API ----------------------------------------------------------------------------
ANY_CALLER = Requirement(roles=STAFF_ROLES, terminal_kinds=TERMINAL_KINDS)
CARD_HOLDER = Requirement(terminal_kinds=TERMINAL_KINDS, card=True, assurance="tap")


class _Shown(OutModel):
    """A model whose fields an audience may leave out (`backend.audiences`): a field
    not given is not sent, rather than sent empty."""

    @model_serializer(mode="wrap")
    def _given_only(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {k: v for k, v in handler(self).items() if k in self.model_fields_set}


class RecentLineOut(_Shown):
    """A movement of one of the holder's purses. The citizen at a kiosk after the PIN
    sees every field; a shop's terminal sees only its own sales, without
    `balance_after`, `period` or `terminal_id`. `details` holds only `items` (a
    basket) and `route` (a fare)."""

    entry_id: int
    purse: str
    kind: str
    amount: int
    at: str | None
    balance_after: int | None = None
    period: str | None = None
    terminal_id: str | None = None
    details: dict[str, Any] | None = None


class ProgrammeOut(_Shown):
    """One programme as this card session may see it (`backend.audiences`): every
    audience gets the programme, eligibility, balances and actions; `details` and
    `overview` only the citizen at a kiosk after the PIN; `recent` the citizen (their
    statement) and an agent shop or gate after the PIN (its own sales only)."""

    key: str
    title: str
    eligible: bool
    reason: str | None
    balances: dict[str, int]
    actions: list[str]
    details: dict[str, Any] | None = None
    recent: list[RecentLineOut] | None = None
    overview: dict[str, Any] | None = None


class ServicesOut(OutModel):
    citizen_id: int
    language: str
    programmes: list[ProgrammeOut]


@api.route("", summary="The card holder's programmes: eligibility, balances, recent use",
           auth=CARD_HOLDER, response=ServicesOut)
def list_services() -> ServicesOut:
    """What this terminal may show: kiosks and counters list every enabled programme,
    agent shops and gates only those they serve. A tap shows eligibility and balances;
    the citizen at a kiosk after the PIN sees their statement (recent movements,
    programme details such as clinic and school); an agent shop or gate after the PIN
    sees only its own sales to the holder (see `backend.audiences`)."""
    principal = current_principal()
    assert principal is not None
    return programmes_for(principal)


def programmes_for(principal: Principal) -> ServicesOut:
    """The card holder's programmes as this card session may see them, read audited.

    One function for the API and the screens, so a kiosk page shows exactly what the
    API would answer the same session. What each audience (terminal kind and
    assurance) sees is `backend.audiences`: nothing outside its allow-lists is sent."""
    from backend.audit import record_read

    assert principal.card is not None
    audience = audience_of(principal.terminal_kind, principal.card.assurance)
    listed = []
    language = "id"
    for module in modules().values():
        actions = [n for n, a in module.actions.items() if allowed_here(a, principal)]
        if principal.role not in ("kiosk", "counter") and not actions:
            continue
        ctx = HubContext(session(), module, principal, principal.card.citizen_id)
        language = ctx.citizen.language or language
        listed.append(_programme(module, ctx, actions, audience))
    record_read(session(), principal.card.citizen_id, "show the card holder their "
                "programmes", ["welfare_decile", "household", "enrolments", "health"])
    return ServicesOut(citizen_id=principal.card.citizen_id, language=language,
                       programmes=listed)


RECENT_PER_PURSE = 5
RECENT_PER_PROGRAMME = 10


def _programme(module: ServiceModule, ctx: HubContext, actions: list[str],
               audience: Audience) -> ProgrammeOut:
    decision = module.eligibility(ctx, ctx.citizen)
    terminal = ctx.principal.terminal_id if ctx.principal else None
    lines_shown = audience.sees_recent and (terminal is not None
                                            or not audience.own_lines_only)
    balances: dict[str, int] = {}
    recent: list[dict[str, Any]] = []
    for purse in module.purses:
        try:
            account = ctx.account_id(purse)
        except ApiError:  # no household for a household purse: nothing to show
            continue
        if account is not None:
            balances[purse] = ctx.balance(purse)
            if lines_shown:
                recent += [{"purse": purse, **line} for line in ctx.recent(
                    purse, RECENT_PER_PURSE,
                    terminal_id=terminal if audience.own_lines_only else None)]
    recent.sort(key=lambda line: line["entry_id"], reverse=True)
    fields: dict[str, Any] = {
        "key": module.key, "title": module.title_in(ctx.citizen.language),
        "eligible": decision.eligible, "reason": decision.reason, "balances": balances,
        "actions": actions}
    if "details" in audience.programme:
        fields["details"] = dict(decision.details)
    if "overview" in audience.programme:
        fields["overview"] = dict(module.overview(ctx, ctx.citizen))
    if audience.sees_recent:
        fields["recent"] = [RecentLineOut(**audience.line_view(line))
                            for line in recent[:RECENT_PER_PROGRAMME]]
    return ProgrammeOut(**audience.programme_view(fields))


IDEMPOTENCY_KEY = Header(
    "Idempotency-Key", "Required by actions that change anything: a replay with the same "
    "key and body returns the first answer; the same key with another body is refused.",
    pattern=idempotency.KEY_SHAPE.pattern)


@api.route("/<key>/<action_name>", "POST", summary="Run a programme's action",
           auth=ANY_CALLER, reasons=(
               Reason.UNKNOWN_SERVICE, Reason.SERVICE_DISABLED, Reason.UNKNOWN_ACTION,
               Reason.ASSURANCE_TOO_LOW, Reason.TERMINAL_KIND_NOT_ALLOWED,
               Reason.ROLE_NOT_ALLOWED, Reason.IDEMPOTENCY_KEY_REQUIRED,
               Reason.IDEMPOTENCY_KEY_REUSED, Reason.NOT_ELIGIBLE, Reason.AMOUNT_INVALID,
               Reason.AMOUNT_ABOVE_CAP, Reason.INSUFFICIENT_BALANCE, Reason.CREDIT_EXPIRED,
               Reason.CATEGORY_NOT_ALLOWED, Reason.PURSE_NOT_CASHABLE),
           headers=(IDEMPOTENCY_KEY,))
def run_action(key: str, action_name: str) -> Any:
    """The body is the action's input schema (see the module's documentation); a
    mutating action needs an `Idempotency-Key` header, and a replay with the same key
    and body returns the first answer."""
    principal = current_principal()
    assert principal is not None
    return perform(principal, key, action_name, request.headers.get("Idempotency-Key"),
                   _input)


def perform(principal: Principal, key: str, action_name: str, key_header: str | None,
            read_input: Callable[[Action], BaseModel]) -> tuple[dict[str, Any], int]:
    """Run one action for `principal` in the request's transaction (not committed here).

    The API and the screens both come through here, so a page can add no rule of its
    own: `read_input` is how the caller's input becomes the action's model (the API
    parses the JSON body; a screen builds it from what it already knows)."""
    module, action = find_action(key, action_name)
    citizen_id = authorise(action, principal)
    if action.mutating or key_header is not None:  # a malformed key is refused everywhere
        key_header = idempotency.check_shape(key_header)
    data = read_input(action)
    sess = session()
    scope = f"{principal.kind}:{principal.terminal_id or principal.subject}"
    if action.mutating:
        digest = idempotency.request_hash(key, action_name, citizen_id,
                                          data.model_dump(mode="json"))
        replay = idempotency.claim(sess, scope, key_header, digest)
        if replay is not None:
            return replay.response, replay.status
    ctx = HubContext(sess, module, principal, citizen_id)
    if citizen_id is not None and action.eligible_only:
        require_eligible(module, ctx)
    answer = result(action.handler(ctx, data))
    _audit(module, action_name, action, principal, citizen_id, answer)
    if action.mutating:
        idempotency.remember(sess, scope, key_header, 200, answer)
    return dict(answer), 200


def _input(action: Action) -> BaseModel:
    if action.input is NoInput and not request.get_data():
        return NoInput()
    return parse_body(action.input)


def _audit(module: ServiceModule, name: str, action: Action, principal: Principal,
           citizen_id: int | None, answer: Mapping[str, Any]) -> None:
    from backend.audit import record

    details = {k: answer[k] for k in ("entry_id", "amount", "receipt") if k in answer}
    record(session(), action=f"service.{module.key}.{name}", subject_type="citizen",
           subject_id=str(citizen_id) if citizen_id is not None else None,
           purpose=action.purpose, details=details, principal=principal,
           citizen_id=citizen_id)
