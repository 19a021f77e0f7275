"""A keyring as the public sees it: every key that signed, so old signatures verify."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from backend.api.routing import OutModel
from backend.keys.ring import Keyring


class PublishedKey(OutModel):
    key_id: str
    status: Literal["current", "retired"]
    created: datetime | None = Field(description="When it became current (unknown for a "
                                     "key made before the keyring recorded it).")
    retired: datetime | None
    public_key_pem: str


def published(ring: Keyring) -> list[PublishedKey]:
    """Oldest first; the private halves are never part of it."""
    return [PublishedKey(key_id=k.key_id, status=k.status, created=k.created,
                         retired=k.retired, public_key_pem=k.public_pem().decode("ascii"))
            for k in ring.keys]
