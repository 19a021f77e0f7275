"""Names as people type them and as the search index keeps them."""

from __future__ import annotations

import unicodedata


def fold_name(name: str) -> str:
    """The search key of a name: case-folded, accents kept, runs of spaces made one."""
    if name.isascii():  # casefold is lower for ASCII, and there is nothing to compose
        return " ".join(name.lower().split())
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())


def clean_name(name: str) -> str:
    """A name as stored: NFC, single spaces, no leading or trailing space."""
    if name.isascii():
        return " ".join(name.split())
    return " ".join(unicodedata.normalize("NFC", name).split())
