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
# Spellings of one Thai sound that the letter rules above cannot reach, applied to the
# word first (RTGS against the spellings on passports and in everyday use): an r
# between a or o and an n that only marks the vowel long ("Porn", "Arnan", "Thorn"
# for phon, anan, thon; only there, for an Indonesian r, "Hartono", "Erna", is
# sounded, and dropping it leaves too short a skeleton), a w ending a
# word that RTGS writes o ("Kaew", "Kaeo"), a final d that RTGS writes t ("Sawad",
# "Sawat"), a final l that RTGS writes n ("Kul", "Kun"), and the silent r of an
# initial sr ("Sri", "Si" for the same Thai word), a g for the k RTGS writes
# ("Goon", "Kun"; not the ng of "Agung"), and a final j that RTGS writes t ("Roj",
# "Rot" for โรจน์; not the old Indonesian tj and dj, "Tjhristian", "Djoko").
_RTGS_VARIANTS = ((re.compile(r"(?<=[ao])r(?=n)"), ""),
                  (re.compile(r"(?<=[aeiou])w$"), ""),
                  (re.compile(r"d(?![aeiou])"), "t"),
                  (re.compile(r"l$"), "n"),
                  (re.compile(r"^sr"), "s"),
                  (re.compile(r"(?<!n)g"), "k"),
                  (re.compile(r"(?<![td])j(?![aeiouhy])"), "t"))
_VOWELS = re.compile(r"[aeiou]+")
_DOUBLED = re.compile(r"(.)\1+")


@dataclass(frozen=True, slots=True)
class NameForms:
    """`folded`: the tokens sorted, joined by a space; `key`: their phonetic keys, sorted;
    `ordered`: the tokens in the order written; `script`: for a name in Thai script,
    its words as written in it, sorted (else "")."""

    folded: str
    key: str
    ordered: str = ""
    script: str = ""


def tokens(name: str) -> list[str]:
    """The name's words, folded, in Latin letters (punctuation and digits dropped)."""
    folded = fold_name(name)
    if has_thai(folded):
        folded = romanise(folded)
    return _NOT_LETTER.sub(" ", folded).split()


def spelled(token: str) -> str:
    """A token with the spellings of one sound merged, vowels kept: "Tjahya" and
    "Cahya" are "cahia"."""
    for pattern, sound in _RTGS_VARIANTS:
        token = pattern.sub(sound, token)
    for spelling, sound in _SOUNDS:
        token = token.replace(spelling, sound)
    return _DOUBLED.sub(r"\1", token)


def phonetic(token: str) -> str:
    """A token's consonant skeleton after merging the spellings of one sound: "Somchai",
    "Somchay" and "Somjai" are "smc"; "Srisuk" and "Srisook" are "ssk"."""
    token = spelled(token)
    skeleton = _VOWELS.sub("", token)
    return skeleton or token[:1]


def forms(name: str) -> NameForms:
    written = tokens(name)
    words = sorted(written)
    folded = fold_name(name)
    script = " ".join(sorted(folded.split())) if has_thai(folded) else ""
    return NameForms(" ".join(words), " ".join(sorted(phonetic(w) for w in words)),
                     " ".join(written), script)
