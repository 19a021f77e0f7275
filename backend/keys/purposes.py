"""Which keyring signs what: the city's documents and receipts, audit checkpoints, and
the SPDCI messages sent to peer registries.

Three keys, configured apart (SATUKARTU_DOCUMENT_SIGNING_KEY, SATUKARTU_AUDIT_SIGNING_KEY,
SATUKARTU_DCI_SIGNING_KEY): each rotates on its own, so renewing one never invalidates
another's published key.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from backend.keys.ring import Keyring, Store, is_pem

# purpose: (setting, the key file's default name in the instance folder)
PURPOSES = {
    "documents": ("DOCUMENT_SIGNING_KEY", "document-signing.key"),
    "checkpoints": ("AUDIT_SIGNING_KEY", "audit-signing.key"),
    "dci": ("DCI_SIGNING_KEY", "dci-signing.key"),
}
RING_SUFFIX = ".keyring.json"


def store(config: Mapping[str, Any], purpose: str) -> Store:
    """The keyring of `purpose`; its keyring file sits beside the key file (or, for a
    key configured as PEM text, in the instance folder under the default name)."""
    setting, default_name = PURPOSES[purpose]
    value = str(config[setting])
    base = Path(config["INSTANCE_DIR"]) / default_name if is_pem(value) else Path(value)
    return Store(value, base.with_name(base.stem + RING_SUFFIX))


def keyring(config: Mapping[str, Any], purpose: str, create: bool = True) -> Keyring:
    return store(config, purpose).load(create)
