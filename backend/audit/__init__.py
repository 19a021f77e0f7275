"""The tamper-evident audit log: one call records, a chain and signed checkpoints prove.

Every authentication, read of personal data, service action and admin action goes
through `record()` (or `record_read()`), in the same transaction as the change.
Refusals are recorded by the API's refusal hook that `init_app` installs.
"""

from __future__ import annotations

from flask import Flask

from backend.audit.record import record, record_read

__all__ = ["init_app", "record", "record_read"]


def init_app(app: Flask) -> None:
    from backend.api.routing import REFUSAL_HOOKS
    from backend.audit.refusals import record_refusal

    if record_refusal not in REFUSAL_HOOKS:
        REFUSAL_HOOKS.append(record_refusal)
