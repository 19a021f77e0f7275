"""The hash chain: how a record becomes bytes, a leaf hash and the next chain head.

Leaves and heads are domain-separated like RFC 6962 (a leaf is hashed behind a 0x00
byte, an interior value behind 0x01), so no leaf can pass for a head:

    leaf_n = SHA-256(0x00 || canonical(record_n))
    head_n = SHA-256(0x01 || head_{n-1} || leaf_n),   head_0 = 32 zero bytes

A record's `prev_hash` is head_{n-1} and its `hash` is head_n; a checkpoint signs
(n, head_n). The canonical form is the record's fields in FIELDS order, as UTF-8 text
joined by U+001F (unit separator); an absent field is the empty string, integers are
decimal, `at` is UTC as `YYYY-MM-DD HH:MM:SS.ffffff` and `details_digest` is the
lowercase hex SHA-256 of the details JSON. Fields never contain control characters
(`clean_text` removes them when a record is made), so exactly len(FIELDS) - 1
separators mark an untampered record. This form costs one `join` per record, which
is what lets the verifier check hundreds of thousands of records a second.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

FIELDS = ("seq", "at", "actor_kind", "actor", "role", "terminal_id", "action",
          "subject_type", "subject_id", "citizen_id", "purpose", "outcome",
          "details_digest")
SEPARATOR = "\x1f"
SEPARATORS = len(FIELDS) - 1
ZERO_HASH = bytes(32)
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
AT_FORMAT = "%Y-%m-%d %H:%M:%S.%f"

_CONTROL = {code: None for code in range(0x20)} | {0x7F: None}


def clean_text(value: Any) -> str | None:
    """A field as stored: text without control characters; empty means absent."""
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    if not text.isprintable():
        text = text.translate(_CONTROL)
    return text or None


def format_at(at: datetime) -> str:
    """The canonical spelling of a record's time (UTC, microseconds)."""
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.strftime(AT_FORMAT)


def details_json(details: dict[str, Any] | None) -> str:
    """Details as canonical JSON (sorted keys, no spaces); the digest is over these bytes."""
    payload = details or {}
    try:
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          default=str)
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from hostile input: keep them escaped
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return text


def details_digest(details_text: str) -> bytes:
    return hashlib.sha256(details_text.encode("utf-8")).digest()


def canonical_text(values: dict[str, Any]) -> str:
    """The canonical text of a record given its field values (see module docstring)."""
    parts = []
    for name in FIELDS:
        value = values.get(name)
        if value is None:
            parts.append("")
        elif name == "at":
            parts.append(format_at(value) if isinstance(value, datetime) else str(value))
        elif name == "details_digest":
            parts.append(value.hex() if isinstance(value, bytes) else str(value))
        else:
            parts.append(str(value))
    return SEPARATOR.join(parts)


def leaf_hash(canonical: str) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + canonical.encode("utf-8")).digest()


def next_head(prev_head: bytes, leaf: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + prev_head + leaf).digest()
