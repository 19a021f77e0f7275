"""What can be asked for: a small registry of request kinds.

A kind says how to check and normalise its payload (so that the same request always
hashes the same), how to describe it in one line for the approver, and how to carry it
out once approved. Kinds live beside the work they do and register themselves here
when their module is imported (KIND_MODULES, imported on first use):

- `cards.revoke`      backend/cards/bulk.py         many cards revoked as a bulk job
- `registry.import`   backend/bulk/registry_import.py  a registry CSV file imported as a job
- `programme.change`  backend/approvals/programme_change.py  a programme switched or re-set
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from backend.auth.principal import Principal
from backend.errors import ApiError
from backend.reasons import Reason

KIND_MODULES = (
    "backend.cards.bulk",
    "backend.bulk.registry_import",
    "backend.approvals.programme_change",
)


@dataclass(frozen=True)
class CarriedOut:
    """What carrying out started or did: a bulk job to follow, or a change made."""

    job_id: int | None = None
    message: str = ""


# carry_out(db, request, payload, principal, send) -> CarriedOut. `send`: queue the job's
# Celery task after the commit (False: the caller runs the job itself, as the CLI can).
CarryOut = Callable[[Session, Any, dict[str, Any], Principal, bool], CarriedOut]


@dataclass(frozen=True)
class Kind:
    name: str
    title: str  # plain words, for lists and screens
    normalise: Callable[[Any], dict[str, Any]]  # refuses a bad payload (validation_failed)
    describe: Callable[[dict[str, Any]], str]  # one line for the approver
    carry_out: CarryOut


KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    KINDS[kind.name] = kind
    return kind


def _load() -> None:
    for name in KIND_MODULES:
        importlib.import_module(name)


def get_kind(name: str) -> Kind:
    """The kind called `name`, or an `unknown_approval_kind` refusal."""
    if name not in KINDS:
        _load()
    kind = KINDS.get(name)
    if kind is None:
        raise ApiError(Reason.UNKNOWN_APPROVAL_KIND, f"no request kind {name!r}", 422,
                       {"kinds": sorted(KINDS)})
    return kind


def kind_names() -> list[str]:
    _load()
    return sorted(KINDS)


def invalid(message: str, **details: Any) -> ApiError:
    """The refusal of a payload that does not have its kind's shape."""
    return ApiError(Reason.VALIDATION_FAILED, message, 422, details or None)
