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
    from backend.api.routing import add_refusal_hook
    from backend.audit.refusals import record_refusal

    add_refusal_hook(app, record_refusal)
