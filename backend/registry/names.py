"""Names as people type them and as the search index keeps them."""

from __future__ import annotations

import unicodedata

# Latin letters with no decomposition to a base letter and marks.
_LATIN_LETTERS = str.maketrans({"đ": "d", "ð": "d", "ħ": "h", "ı": "i", "ł": "l", "ø": "o",
                                "ŧ": "t", "ƀ": "b", "ƚ": "l", "ɨ": "i", "ʉ": "u"})


def fold_name(name: str) -> str:
    """The search key of a name: case-folded, runs of spaces made one, and Latin letters
    without their accents ("Nguyễn Văn Đức" -> "nguyen van duc"), since Vietnamese
    and Indonesian names are often typed without them; the marks of other scripts stay
    (a Thai vowel or tone mark is part of the letter, not an accent)."""
    if name.isascii():  # casefold is lower for ASCII, and there is nothing to compose
        return " ".join(name.lower().split())
    decomposed = unicodedata.normalize("NFD", name.casefold())
    kept: list[str] = []
    for char in decomposed:
        if unicodedata.combining(char) and kept and _latin(kept[-1]):
            continue  # an accent on a Latin letter
        kept.append(char)
    folded = unicodedata.normalize("NFC", "".join(kept)).translate(_LATIN_LETTERS)
    return " ".join(folded.split())


def _latin(char: str) -> bool:
    return char.isascii() or unicodedata.name(char, "").startswith("LATIN")


def clean_name(name: str) -> str:
    """A name as stored: NFC, single spaces, no leading or trailing space."""
    if name.isascii():
        return " ".join(name.split())
    return " ".join(unicodedata.normalize("NFC", name).split())
