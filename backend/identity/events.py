"""Identity's audit records: sign-ins, and changes to staff accounts and terminals.

Every call goes through `backend.audit.record`, in the caller's transaction, so a
change and its record commit together. Action names are `staff.*` and `terminal.*`.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from sqlalchemy.orm import Session

from backend.auth.principal import Principal

log = logging.getLogger(__name__)


def record(session: Session, *, action: str, subject_type: str, subject_id: str,
           outcome: str = "ok", details: dict[str, Any] | None = None,
           principal: Principal | None = None) -> None:
    """Append one audit record in `session`'s transaction."""
    audit = _audit_module()
    if audit is None:
        # AUDIT-PENDING: the audit log is not part of this build yet; the record is
        # logged instead. Remove this branch once backend.audit ships `record`.
        log.info("audit %s %s %s/%s %s", action, outcome, subject_type, subject_id, details)
        return
    audit.record(session, action=action, subject_type=subject_type, subject_id=subject_id,
                 outcome=outcome, details=details, principal=principal)


def _audit_module() -> Any:
    try:
        module = importlib.import_module("backend.audit")
    except ModuleNotFoundError as exc:
        if exc.name and "backend.audit".startswith(exc.name):
            return None
        raise
    return module if hasattr(module, "record") else None
