"""The comparable forms of a name: its folded tokens in order-free form, and a phonetic
key that makes spelling variants meet.

Built on `names.fold_name` (case, spaces, Latin accents), Thai script is first given
a Latin spelling (`thai.romanise`). Tokens are sorted, so "Santoso Budi" and "Budi
Santoso" compare equal: Indonesian names have no fixed family-name position, and Thai
names are written given-name first in Thai but often family-name first in foreign
paperwork.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from backend.registry.dedup.thai import has_thai, romanise
from backend.registry.names import fold_name

_NOT_LETTER = re.compile(r"[^a-z\s]+")
# Spellings of one sound, in the order applied: the old Indonesian spelling (Soekarno,
# Djoko, Tjahjono), the aspirates RTGS writes with h (ph, th, kh) that other
# romanisations drop, and long vowels spelled double (Boonmee, Srisook).
_SOUNDS = (("oe", "u"), ("dj", "j"), ("tj", "c"), ("ch", "c"), ("j", "c"), ("ph", "p"),
           ("th", "t"), ("kh", "k"), ("sh", "s"), ("gh", "g"), ("q", "k"), ("x", "ks"),
           ("z", "s"), ("v", "w"), ("oo", "u"), ("ee", "i"), ("ou", "u"), ("y", "i"),
           ("h", ""))
_VOWELS = re.compile(r"[aeiou]+")
_DOUBLED = re.compile(r"(.)\1+")


@dataclass(frozen=True, slots=True)
class NameForms:
    """`folded`: the tokens sorted, joined by a space; `key`: their phonetic keys, sorted."""

    folded: str
    key: str


def tokens(name: str) -> list[str]:
    """The name's words, folded, in Latin letters (punctuation and digits dropped)."""
    folded = fold_name(name)
    if has_thai(folded):
        folded = romanise(folded)
    return _NOT_LETTER.sub(" ", folded).split()


def phonetic(token: str) -> str:
    """A token's consonant skeleton after merging the spellings of one sound: "Somchai",
    "Somchay" and "Somjai" are "smc"; "Srisuk" and "Srisook" are "srsk"."""
    for spelling, sound in _SOUNDS:
        token = token.replace(spelling, sound)
    token = _DOUBLED.sub(r"\1", token)
    skeleton = _VOWELS.sub("", token)
    return skeleton or token[:1]


def forms(name: str) -> NameForms:
    words = sorted(tokens(name))
    return NameForms(" ".join(words), " ".join(sorted(phonetic(w) for w in words)))
