"""Where every domain's models are imported, so Alembic and tests see one metadata."""

from __future__ import annotations

import importlib

MODEL_MODULES = (
    "backend.registry.models",
    "backend.identity.models",
    "backend.audit.models",
    "backend.cards.models",
    "backend.ledger.models",
    "backend.documents.models",
    "backend.approvals.models",
    "backend.bulk.models",
    "backend.programmes.models",
    "backend.cards.desk_models",
    "backend.offline.models",
    "backend.registry.dedup.models",
    "backend.dci.models",
    "backend.grievances.models",
)


def import_all() -> None:
    for name in MODEL_MODULES:
        importlib.import_module(name)
