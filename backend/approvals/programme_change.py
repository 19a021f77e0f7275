"""A change to a programme (switched on or off, a new amount or eligibility rule) as an
approved request.

The payload names an installed programme (`key`), its new `enabled` flag (or null:
unchanged) and new parameter values as text (null: back to the city's configuration),
the shape `backend.programmes.settings.approval_payload` gives when a change is refused
`approval_required`. They are checked against the programme's declared parameters
when asked, so the approver sees a change that can be applied. Carrying it out hands it
to `backend.programmes.settings.apply_change` with the approval's id, in the same
transaction as the approval's move to `carried_out`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from backend.approvals import kinds
from backend.approvals.models import ApprovalRequest
from backend.auth.principal import Principal
from backend.errors import ApiError
from backend.reasons import Reason

KIND = "programme.change"
MAX_VALUE = 200


def _declared(key: Any) -> Any:
    """The installed programme module's class or instance called `key`."""
    from backend.services.catalogue import discover
    from backend.services.interface import KEY_PATTERN

    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        raise kinds.invalid("key: a programme's key")
    installed = discover()
    if key not in installed:
        raise kinds.invalid(f"no programme {key!r} is installed", programmes=sorted(installed))
    return installed[key].load()


def normalise(payload: Any) -> dict[str, Any]:
    """`{"key", "enabled": true|false|null, "parameters": {name: text|null}}`, the shape
    `backend.programmes.settings.approval_payload` gives (null: back to the city's
    configuration)."""
    if not isinstance(payload, dict) or not set(payload) <= {"key", "enabled", "parameters"}:
        raise kinds.invalid("a programme change is {key, enabled, parameters}")
    module = _declared(payload.get("key"))
    enabled = payload.get("enabled")
    if enabled is not None and not isinstance(enabled, bool):
        raise kinds.invalid("enabled: true, false or null (unchanged)")
    parameters = payload.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise kinds.invalid("parameters: an object of name -> text (or null)")
    declared = getattr(module, "params", {})
    checked: dict[str, str | None] = {}
    for name, value in sorted(parameters.items()):
        if name not in declared:
            raise kinds.invalid(f"parameters: {payload['key']} has no parameter {name!r}",
                                parameters=sorted(declared))
        if value is None:
            checked[name] = None
            continue
        if isinstance(value, bool) or not isinstance(value, str | int) or \
                len(str(value)) > MAX_VALUE:
            raise kinds.invalid(f"parameters: {name} is text, a whole number or null")
        text = str(value).strip()
        try:
            declared[name].parse(text)
        except (ValueError, TypeError) as exc:
            raise kinds.invalid(f"parameters: {name}: {exc}") from None
        checked[name] = text
    if enabled is None and not checked:
        raise kinds.invalid("a programme change changes something: enabled or parameters")
    return {"key": payload["key"], "enabled": enabled, "parameters": checked}


def describe(payload: dict[str, Any]) -> str:
    parts = []
    if payload["enabled"] is not None:
        parts.append("switch on" if payload["enabled"] else "switch off")
    parts += [f"{name} = {'(the city configuration)' if value is None else value}"
              for name, value in payload["parameters"].items()]
    return f"Change programme {payload['key']}: {'; '.join(parts)}"


def _carry_out(db: Session, request: ApprovalRequest, payload: dict[str, Any],
               principal: Principal, send: bool) -> kinds.CarriedOut:
    try:
        from backend.programmes.settings import apply_change
    except ImportError as exc:
        raise ApiError(Reason.SERVICE_UNAVAILABLE, "programme settings cannot be changed on "
                       "this hub (backend.programmes is missing)", 503) from exc
    apply_change(db, payload["key"], enabled=payload["enabled"],
                 parameters=dict(payload["parameters"]), principal=principal,
                 approval_id=request.id)
    return kinds.CarriedOut(message=describe(payload))


kinds.register(kinds.Kind(name=KIND, title="Change a programme", normalise=normalise,
                          describe=describe, carry_out=_carry_out))
