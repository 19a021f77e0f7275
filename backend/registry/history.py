"""The registry's history: who changed which field, from what to what, and when.

Rows are written in the same transaction as the change, with one Core INSERT per change
set, and never updated. The values are kept as text (ISO dates, `true`/`false`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from backend.auth.principal import Principal, current_principal
from backend.registry.models import RegistryChange


@dataclass(frozen=True)
class Actor:
    kind: str  # staff | terminal | card | system
    name: str

    @classmethod
    def of(cls, principal: Principal | None) -> Actor:
        if principal is None:
            return cls("system", "system")
        return cls(principal.kind, principal.subject)

    @classmethod
    def current(cls) -> Actor:
        """The request's caller; outside a request (CLI, tasks) the system."""
        try:
            return cls.of(current_principal())
        except RuntimeError:  # no application context
            return cls.of(None)


def as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The fields of `after` whose value differs from `before`: {field: (old, new)}."""
    return {name: (before.get(name), value) for name, value in after.items()
            if before.get(name) != value}


def record(sess: Session, actor: Actor, *, action: str, entity: str, entity_id: int,
           citizen_id: int | None, changes: Mapping[str, tuple[Any, Any]] | None = None
           ) -> None:
    """Append one row per changed field (one row without a field when nothing is listed)."""
    base = {"actor_kind": actor.kind, "actor": actor.name, "action": action,
            "entity": entity, "entity_id": entity_id, "citizen_id": citizen_id}
    rows = [{**base, "field": name, "old_value": as_text(old), "new_value": as_text(new)}
            for name, (old, new) in (changes or {}).items()]
    if not rows:
        rows = [{**base, "field": None, "old_value": None, "new_value": None}]
    sess.execute(insert(RegistryChange), rows)


def for_citizen(sess: Session, citizen_id: int, limit: int = 1000) -> list[RegistryChange]:
    """A person's history, oldest first."""
    query = (select(RegistryChange).where(RegistryChange.citizen_id == citizen_id)
             .order_by(RegistryChange.id).limit(limit))
    return list(sess.scalars(query))
