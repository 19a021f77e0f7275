"""Idempotency keys: a replayed mutating request returns the first answer.

The key is claimed first, in the request's own transaction: a concurrent duplicate
waits on the key's unique index until the first commits, then sees the stored answer;
if the first is refused and rolls back, its claim goes with it and a retry runs anew.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from backend.errors import ApiError
from backend.ledger.models import IdempotencyKey
from backend.reasons import Reason

KEYS = IdempotencyKey.__table__
KEY_SHAPE = re.compile(r"^[A-Za-z0-9._:\-]{8,200}$")


@dataclass(frozen=True)
class Replay:
    status: int
    response: Any


def request_hash(*parts: Any) -> str:
    """A digest of what was asked, so a key reused for something else is caught."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_shape(key: str | None) -> str:
    if not key:
        raise ApiError(Reason.IDEMPOTENCY_KEY_REQUIRED,
                       "send an Idempotency-Key header with this request", 400)
    if not KEY_SHAPE.match(key):
        raise ApiError(Reason.VALIDATION_FAILED, "the Idempotency-Key must be 8 to 200 "
                       "letters, digits or . _ : -", 400, {"header": "Idempotency-Key"})
    return key


def claim(sess: Session, scope: str, key: str, digest: str) -> Replay | None:
    """Claim `key` for this request, or the first answer given under it.

    Refuses `idempotency_key_reused` when the key was used for other parameters.
    """
    claimed = sess.execute(text(
        "INSERT INTO ledger_idempotency_keys (scope, key, request_hash) "
        "VALUES (:scope, :key, :digest) ON CONFLICT DO NOTHING RETURNING key"),
        {"scope": scope, "key": key, "digest": digest}).first()
    if claimed is not None:
        return None
    first = sess.execute(select(KEYS.c.request_hash, KEYS.c.status, KEYS.c.response)
                         .where(KEYS.c.scope == scope, KEYS.c.key == key)).one()
    if first.request_hash != digest:
        raise ApiError(Reason.IDEMPOTENCY_KEY_REUSED, "this Idempotency-Key was used for "
                       "a different request", 422, {"idempotency_key": key})
    return Replay(int(first.status or 200), first.response)


def remember(sess: Session, scope: str, key: str, status: int, response: Any) -> None:
    sess.execute(update(KEYS).where(KEYS.c.scope == scope, KEYS.c.key == key)
                 .values(status=status, response=response))
