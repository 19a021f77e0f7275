"""Changing a programme while the hub runs: the one function that does it, and what it shows.

`apply_change` is the only writer of `programme_settings`: the API, the CLI and the
approvals module all come through it, so every change is validated the same way
(the module is built with the new parameters exactly as at start), stored with a new
version, written to the history and the audit log, and seen by every process of the
hub (`backend.programmes.live`). Changing a parameter declared `needs_approval`
(amounts, eligibility rules: the default) needs a second admin: without an approved
request's id it is refused `approval_required`, naming what to submit for approval.
Enabling and disabling are direct, and audited.

`describe` and `list_programmes` are what a console page shows: each parameter's value,
where it comes from (default, config, database), whether changing it needs approval,
and any stored value the module no longer accepts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.auth.principal import Principal
from backend.errors import ApiError
from backend.programmes.live import (
    ProgrammeState,
    Stored,
    mark_changing,
    read_stored,
    state_of,
)
from backend.programmes.models import (
    EPOCH_ROW,
    ProgrammeChange,
    ProgrammeEpoch,
    ProgrammeSetting,
)
from backend.reasons import Reason

KIND = "programme.change"  # the approval kind, and the audit action
APPROVALS_PATH = "/api/v1/approvals"
MAX_VALUE_LENGTH = 200


@dataclass(frozen=True)
class ParameterView:
    name: str
    doc: str
    value: str  # in effect, as text
    source: str  # "default" | "config" | "database"
    config_value: str  # what it is without the database's override
    needs_approval: bool
    stored: str | None  # the database's override, also when it is left out
    ignored: str | None  # why the stored override is left out


@dataclass(frozen=True)
class ProgrammeView:
    key: str
    title: str
    titles: dict[str, str]
    enabled: bool  # runs now
    enabled_source: str  # "config" | "database"
    enabled_by_config: bool
    available: bool  # False: it cannot run at all (`problem`)
    problem: str | None
    version: int
    updated_by: str | None
    updated_at: datetime | None
    actions: list[str]
    parameters: list[ParameterView]
    ignored: dict[str, str]  # every stored override left out (also of names gone) -> why


@dataclass(frozen=True)
class ChangeView:
    id: int
    key: str
    version: int
    changed_by: str
    changed_at: datetime
    approval_id: int | None
    before: dict[str, Any]
    after: dict[str, Any]


# what a console shows ------------------------------------------------------------------
def list_programmes(db: Session | None = None) -> list[ProgrammeView]:
    """Every installed programme, enabled or not, as the database has it now."""
    catalogue = _catalogue()
    rows = {row.key: row for row in read_stored(db)}
    return [_view(state_of(catalogue, key, rows.get(key))) for key in catalogue.installed]


def describe(key: str, db: Session | None = None) -> ProgrammeView:
    """One programme as the database has it now (refused `unknown_service`)."""
    catalogue = _catalogue()
    _require_installed(key)
    row = next((r for r in read_stored(db) if r.key == key), None)
    return _view(state_of(catalogue, key, row))


def history(key: str, db: Session | None = None, limit: int = 50) -> list[ChangeView]:
    """The programme's changes, newest first."""
    from backend.db import session

    _require_installed(key)
    sess = db if db is not None else session()
    rows = sess.scalars(select(ProgrammeChange).where(ProgrammeChange.key == key)
                        .order_by(ProgrammeChange.id.desc()).limit(limit))
    return [ChangeView(r.id, r.key, r.version, r.changed_by, r.changed_at, r.approval_id,
                       r.before, r.after) for r in rows]


def needs_approval(key: str, enabled: bool | None, parameters: Mapping[str, Any]) -> bool:
    """Whether this change needs a second admin: it sets or resets a parameter declared
    `needs_approval` (a name the module does not declare counts as one; it is refused
    anyway). Enabling and disabling alone do not."""
    module = _require_installed(key)
    declared = module.params if module is not None else {}
    return any(name not in declared or declared[name].needs_approval for name in parameters)


def approval_payload(key: str, enabled: bool | None,
                     parameters: Mapping[str, Any]) -> dict[str, Any]:
    """What to submit for approval (kind `programme.change`), and what `apply_payload`
    carries out once approved."""
    return {"key": key, "enabled": enabled,
            "parameters": {name: _as_text(value) for name, value in parameters.items()}}


def apply_payload(db: Session, payload: Mapping[str, Any], *, principal: Principal,
                  approval_id: int | None = None) -> None:
    """`apply_change` for a payload made by `approval_payload` (an approved request's)."""
    key, enabled, parameters = (payload.get("key"), payload.get("enabled"),
                                payload.get("parameters") or {})
    if not isinstance(key, str) or not isinstance(parameters, Mapping) or \
            not (enabled is None or isinstance(enabled, bool)):
        raise ApiError(Reason.VALIDATION_FAILED, "not a programme change: key, enabled "
                       "(true, false or null) and parameters (name -> text or null)", 422)
    apply_change(db, key, enabled=enabled, parameters=parameters, principal=principal,
                 approval_id=approval_id)


# the change ------------------------------------------------------------------------------
def apply_change(db: Session, key: str, *, enabled: bool | None,
                 parameters: Mapping[str, str | int | None], principal: Principal,
                 approval_id: int | None = None) -> None:
    """Enable or disable programme `key` (`enabled`; None leaves it) and set its
    parameters (`parameters`: name -> text as the city would write it, or None to go
    back to the city's configuration), in `db`'s transaction; the caller commits.

    Refused, with nothing written: `unknown_service`; `validation_failed` with an
    error per parameter (an unknown name, a value the module refuses, values it
    refuses together); `approval_required` when the change needs a second admin and
    no `approval_id` is given (the caller, the approvals module, has checked that the
    approved request is this very change). Written: the settings row with a new
    version, the history row, the audit record `programme.change` with before and
    after, and the epoch every hub process checks.
    """
    from backend.audit import record
    from backend.services.catalogue import live

    programmes = live()
    _require_installed(key)
    changes = _checked_texts(parameters)
    if enabled is None and not changes:
        raise ApiError(Reason.VALIDATION_FAILED, "nothing to change: give enabled or "
                       "parameters", 422)
    row = db.get(ProgrammeSetting, key)
    _validated(key, enabled, _merged(_stored(row), changes), row, changes)  # refused early
    if approval_id is None and needs_approval(key, enabled, changes):
        raise _approval_required(key, enabled, changes)
    with db.begin_nested():  # a refusal below leaves nothing behind, whatever the caller does
        db.execute(update(ProgrammeEpoch).where(ProgrammeEpoch.id == EPOCH_ROW)
                   .values(epoch=ProgrammeEpoch.epoch + 1))  # serialises programme changes
        row = db.get(ProgrammeSetting, key, populate_existing=True)  # as of the lock
        before = state_of(programmes.catalogue, key, _stored(row))
        overrides = _merged(before.stored, changes)
        after = _validated(key, enabled, overrides, row, changes)
        row = row or ProgrammeSetting(key=key, enabled=None, parameters={}, version=0)
        row.enabled = enabled if enabled is not None else row.enabled
        row.parameters = overrides
        row.version = (row.version or 0) + 1
        row.updated_by = _actor(principal)
        row.updated_at = datetime.now(UTC)
        db.add(row)
        details = {"before": _summary(before, changes), "after": _summary(after, changes)}
        db.add(ProgrammeChange(key=key, version=row.version, changed_by=row.updated_by,
                               approval_id=approval_id, **details))
        db.flush()
    record(db, action=KIND, subject_type="programme", subject_id=key, principal=principal,
           details={**details, "version": row.version, "approval_id": approval_id})
    mark_changing(db, programmes)


def _merged(before: Stored | None, changes: Mapping[str, str | None]) -> dict[str, Any]:
    """The stored overrides after the change: the old ones kept as stored (also those
    left out: they stay visible until an admin sets or resets them), the changed ones
    replaced, the reset ones dropped."""
    stored = before.parameters if before is not None else {}
    merged = dict(stored) if isinstance(stored, Mapping) else {}
    for name, value in changes.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged


def _validated(key: str, enabled: bool | None, overrides: dict[str, Any],
               row: ProgrammeSetting | None, changes: Mapping[str, str | None]
               ) -> ProgrammeState:
    """The programme as it will run, or `validation_failed` naming each parameter."""
    catalogue = _catalogue()
    problem = catalogue.problems.get(key)
    if problem is not None and (enabled or changes):
        raise ApiError(Reason.VALIDATION_FAILED, f"{key} cannot run here: {problem}", 422,
                       {"errors": [{"field": "enabled" if enabled else "parameters",
                                    "problem": problem, "type": "module_unavailable"}]})
    trial = Stored(key, enabled if enabled is not None else (row.enabled if row else None),
                   overrides, -1)
    after = state_of(catalogue, key, trial)
    declared = catalogue.base[key].params if problem is None else {}
    errors = [{"field": f"parameters.{name}", "problem": after.ignored[name],
               "type": "value_refused" if name in declared else "unknown_parameter"}
              for name in changes if name in after.ignored]
    stored = row.parameters if row is not None and isinstance(row.parameters, Mapping) else {}
    errors += [{"field": f"parameters.{name}", "problem": "the module has no such parameter",
                "type": "unknown_parameter"} for name, value in changes.items()
               if value is None and name not in declared and name not in stored]
    if errors:
        raise ApiError(Reason.VALIDATION_FAILED, f"{key} does not accept these "
                       "parameters", 422, {"errors": errors})
    return after


def _summary(state: ProgrammeState, changes: Mapping[str, Any]) -> dict[str, Any]:
    values = {p.name: p.value for p in _parameters(state) if p.name in changes}
    return {"enabled": state.enabled, "parameters": values}


def _approval_required(key: str, enabled: bool | None,
                       changes: Mapping[str, str | None]) -> ApiError:
    payload = approval_payload(key, enabled, changes)
    return ApiError(Reason.APPROVAL_REQUIRED, f"changing {key}'s amounts or eligibility "
                    "rules needs a second admin: submit it for approval", 403,
                    {"kind": KIND, "payload": payload, "submit_to": APPROVALS_PATH})


def _checked_texts(parameters: Mapping[str, Any]) -> dict[str, str | None]:
    """Names and values in the shape the module reads (text), or `validation_failed`."""
    if not isinstance(parameters, Mapping):
        raise ApiError(Reason.VALIDATION_FAILED, "parameters: a table of name -> text", 422)
    checked, errors = {}, []
    for name, value in parameters.items():
        text = _as_text(value)
        if not isinstance(name, str) or (text is not None and not isinstance(text, str)):
            errors.append({"field": f"parameters.{name}", "problem": "text or null",
                           "type": "value_refused"})
        elif text is not None and len(text) > MAX_VALUE_LENGTH:
            errors.append({"field": f"parameters.{name}", "problem": "at most "
                           f"{MAX_VALUE_LENGTH} characters", "type": "value_refused"})
        else:
            checked[name] = text
    if errors:
        raise ApiError(Reason.VALIDATION_FAILED, "parameters must be text", 422,
                       {"errors": errors})
    return checked


def _as_text(value: Any) -> Any:
    """Numbers and booleans as the city's configuration file would give them."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    return value


# views -------------------------------------------------------------------------------------
def _view(state: ProgrammeState) -> ProgrammeView:
    catalogue = _catalogue()
    module = catalogue.base.get(state.key)
    stored = state.stored
    return ProgrammeView(
        key=state.key, title=module.title_in("en") if module else state.key,
        titles=dict(module.title) if module else {}, enabled=state.enabled,
        enabled_source=state.enabled_source, enabled_by_config=state.key in catalogue.enabled,
        available=state.problem is None, problem=state.problem,
        version=stored.version if stored else 0,
        updated_by=stored.updated_by if stored else None,
        updated_at=stored.updated_at if stored else None,
        actions=sorted(module.actions) if module else [], parameters=_parameters(state),
        ignored=dict(state.ignored))


def _parameters(state: ProgrammeState) -> list[ParameterView]:
    catalogue = _catalogue()
    module = catalogue.base.get(state.key)
    if module is None:
        return []
    configured = catalogue.params.get(state.key, {})
    stored = state.stored.parameters if state.stored is not None else {}
    stored = stored if isinstance(stored, Mapping) else {}
    views = []
    for name, param in module.params.items():
        config_value = configured.get(name, _as_text(param.default))
        if name in state.overrides:
            value, source = state.overrides[name], "database"
        else:
            value, source = config_value, "config" if name in configured else "default"
        raw = stored.get(name)
        views.append(ParameterView(
            name=name, doc=param.doc, value=str(value), source=source,
            config_value=str(config_value), needs_approval=param.needs_approval,
            stored=raw if raw is None or isinstance(raw, str) else repr(raw),
            ignored=state.ignored.get(name)))
    return views


def _stored(row: ProgrammeSetting | None) -> Stored | None:
    if row is None:
        return None
    return Stored(row.key, row.enabled, row.parameters, row.version, row.updated_by,
                  row.updated_at)


def _actor(principal: Principal) -> str:
    return f"{principal.kind}:{principal.subject}"[:120]


def _catalogue() -> Any:
    from backend.services.catalogue import live

    return live().catalogue


def _require_installed(key: str) -> Any:
    """The module as configured (None if it cannot be loaded), or `unknown_service`."""
    catalogue = _catalogue()
    if not isinstance(key, str) or key not in catalogue.installed:
        raise ApiError(Reason.UNKNOWN_SERVICE, f"no programme {key!r}", 404)
    return catalogue.base.get(key)
