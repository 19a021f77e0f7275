"""The one text of a request's payload, and its SHA-256: what an approval binds.

Keys sorted, no spaces, UTF-8, integers and strings only as JSON spells them: two
payloads that mean the same hash the same, and any change to what is asked changes
the hash. The hash is kept beside the text so that carrying out can refuse both a
different request and a stored one altered after it was approved.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(payload: Any) -> str:
    """`payload` as canonical JSON text (floats are refused: they have no one spelling)."""
    _refuse_floats(payload)
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def payload_hash(text: str) -> str:
    """SHA-256 of canonical JSON text, as 64 lowercase hex digits."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def hash_of(payload: Any) -> str:
    return payload_hash(canonical_json(payload))


def _refuse_floats(value: Any) -> None:
    if isinstance(value, float):
        raise ValueError("a payload holds no fractional numbers")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError("a payload's keys are strings")
            _refuse_floats(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _refuse_floats(item)
