"""What a virtual card remembers between insertions, kept in one JSON file per card.

Writes are atomic (temporary file, fsync, rename) and happen before the card
answers, so a wrong PIN counted is a wrong PIN remembered even if the process dies.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from card_reader.piv import DEFAULT_MANAGEMENT_KEY, MAX_PIN_RETRIES, Algorithm

STATE_VERSION = 1
DEFAULT_PIN = "123456"
DEFAULT_PUK = "12345678"
DEFAULT_RETRIES = 3


@dataclass
class CardState:
    """The card's persistent memory; bytes are kept as hex in the file."""

    pin: str = DEFAULT_PIN
    puk: str = DEFAULT_PUK
    pin_retries: int = DEFAULT_RETRIES
    puk_retries: int = DEFAULT_RETRIES
    pin_remaining: int = DEFAULT_RETRIES
    puk_remaining: int = DEFAULT_RETRIES
    mgmt_algorithm: int = int(Algorithm.TDES)
    mgmt_key: str = DEFAULT_MANAGEMENT_KEY.hex()
    keys: dict[str, str] = field(default_factory=dict)  # slot hex -> PKCS#8 DER hex
    objects: dict[str, str] = field(default_factory=dict)  # object id hex -> TLV hex
    version: int = STATE_VERSION

    @classmethod
    def blank(cls, retries: int = DEFAULT_RETRIES) -> CardState:
        if not 1 <= retries <= MAX_PIN_RETRIES:
            raise ValueError(f"retry count must be 1..{MAX_PIN_RETRIES}")
        return cls(pin_retries=retries, puk_retries=retries, pin_remaining=retries,
                   puk_remaining=retries)

    @classmethod
    def from_dict(cls, data: dict) -> CardState:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


class StateFile:
    """Loads and atomically saves one card's state."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def load(self, retries: int = DEFAULT_RETRIES) -> CardState:
        """The saved state, or a blank card (written at once) when the file is new."""
        if not self.path.exists():
            state = CardState.blank(retries)
            self.save(state)
            return state
        return CardState.from_dict(json.loads(self.path.read_text("utf-8")))

    def save(self, state: CardState) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".vcard-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(asdict(state), fh, indent=1, sort_keys=True)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
