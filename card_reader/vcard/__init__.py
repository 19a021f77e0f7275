"""The virtual PIV card: a process whose connection to vpcd is a card in the reader."""

from __future__ import annotations

import os

from card_reader.vcard.applet import PivApplet
from card_reader.vcard.engine import ATR, DELAY_PROFILES, CardEngine, DelayProfile
from card_reader.vcard.state import CardState, StateFile
from card_reader.vcard.vpcd import DEFAULT_HOST, DEFAULT_PORT, VpcdLink

__all__ = [
    "ATR", "DELAY_PROFILES", "CardEngine", "CardState", "DelayProfile", "PivApplet",
    "StateFile", "VpcdLink", "open_card", "DEFAULT_HOST", "DEFAULT_PORT",
]


def open_card(state_path: str | os.PathLike[str], delay_profile: str = "fast",
              retries: int = 3) -> CardEngine:
    """The card kept in `state_path` (a blank card when the file is new)."""
    store = StateFile(state_path)
    applet = PivApplet(store.load(retries), store.save)
    return CardEngine(applet, DELAY_PROFILES[delay_profile])
