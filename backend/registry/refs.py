"""A citizen's opaque reference: what leaves the hub where a person must be told apart.

A card session tells its terminal and the screen's page whose card it is
(`citizen_ref`), so a page can see that a new card belongs to another person. The
internal id would do that, but it is an enumerable key (the next person is id + 1)
and a handle on the registry API; the national number is personal data. So the
reference is an HMAC of the id under a key derived from the hub's SECRET_KEY:

    citizen_ref = "c_" + base32( HMAC-SHA256(key, "citizen|" + id) [:15] )   (24 chars)

It is stable for a person as long as the hub's SECRET_KEY is (the same on every card
the person holds, and across sessions), reveals nothing without that key, and cannot
be turned back into an id except by the hub. It names a person, not a record: the API
takes ids, never references.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache

from flask import current_app

PREFIX = "c_"
_LABEL = b"satukartu citizen reference v1"
_BYTES = 15  # 120 bits: no collision in any city's registry, 24 base32 characters
CITIZEN_REF_DOC = ("the card holder's opaque reference: stable for the person (every "
                   "card, every session), not their id or national number; HMAC of the "
                   "id under a key of the hub, `c_` and 24 base32 characters")


@lru_cache(maxsize=4)
def _key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), _LABEL, hashlib.sha256).digest()


def citizen_ref(citizen_id: int, secret_key: str | None = None) -> str:
    """The opaque, stable reference of the person with `citizen_id` (the app's SECRET_KEY
    unless another key is given)."""
    key = _key(secret_key if secret_key is not None else current_app.config["SECRET_KEY"])
    mac = hmac.new(key, b"citizen|%d" % citizen_id, hashlib.sha256).digest()[:_BYTES]
    return PREFIX + base64.b32encode(mac).decode().lower()
