"""Identity's audit records: sign-ins, and changes to staff accounts and terminals.

Every call goes through `backend.audit.record`, in the caller's transaction, so a
change and its record commit together. Action names are `staff.*` and `terminal.*`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from backend.auth.principal import Principal


def record(session: Session, *, action: str, subject_type: str, subject_id: str,
           outcome: str = "ok", details: dict[str, Any] | None = None,
           principal: Principal | None = None) -> None:
    """Append one audit record in `session`'s transaction.

    The audit log is imported plainly: a hub that cannot record its sign-ins must fail,
    not log them somewhere else and carry on."""
    from backend.audit import record as append

    append(session, action=action, subject_type=subject_type, subject_id=subject_id,
           outcome=outcome, details=details, principal=principal)
