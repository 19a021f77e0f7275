"""The registry's entries in the audit log, written in the caller's transaction.

Changes are logged with the names of the fields changed (the values stay in the
registry's own history); reads of a person's data are logged with their purpose, so
the citizen can see who read what, when and why.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from backend import audit


def changed(sess: Session | Connection, action: str, *, subject_type: str, subject_id: int,
            citizen_id: int | None, fields: Iterable[str] = (),
            details: dict | None = None) -> None:
    audit.record(sess, action=f"registry.{action}", subject_type=subject_type,
                 subject_id=str(subject_id), citizen_id=citizen_id,
                 details={"fields": sorted(fields), **(details or {})})


def read(sess: Session, citizen_id: int, purpose: str, fields: Iterable[str]) -> None:
    audit.record_read(sess, citizen_id, purpose, sorted(fields))
