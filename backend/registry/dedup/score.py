"""How alike two registry records are, and whether a clerk should look at them.

A pair is put to a clerk when the names are alike (`name_similarity`, 0-100) and the
birth date and place agree enough (`decide`). The thresholds were chosen on the
synthetic registry of bench/bench_dedup.py (see BENCHMARKS.md), not on the tests.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from rapidfuzz.distance import OSA, JaroWinkler
from rapidfuzz.fuzz import ratio, token_set_ratio

from backend.registry.dedup.keys import NameForms, phonetic, spelled

# Same birth date: names this alike, of three words or more, are a candidate wherever
# the person was registered (two-word names this alike share a birth day by chance
# too often in a city of a million: bench/bench_dedup.py).
SAME_DATE_ANYWHERE = 97.0
# Same birth date and the same district: a looser name suffices (typos, a dropped
# or added middle name, a transliteration).
SAME_DATE_SAME_PLACE = 82.0
# A birth date one typing slip away (a digit, two digits swapped, day and month
# swapped), in the same district: only a close name (closer than one inside the other).
NEAR_DATE_SAME_PLACE = 91.0
# The phonetic keys count a little less than the spelled names: they merge more.
KEY_WEIGHT = 0.95
# Words in common count less than the whole name: one name inside the other (a dropped
# middle name) is a candidate only where the place agrees too.
SET_WEIGHT = 0.9
# A birth date one slip away in the same village: a name with one more defect (a typo,
# a dropped middle name) still goes to a clerk. Two mistakes in one record are common
# enough on hand-copied forms; the village keeps the look-alikes of a city out.
NEAR_DATE_SAME_VILLAGE = 85.0
# Twins and other siblings share a family name: when what is left of the names (the
# given names) is more than one typing slip apart and less alike than this ("Tuti" and
# "Putri" are 67, "Sai" and "Saisu" 75, "Gilang" and "Agung" 86 by their keys), they
# are two people, whatever the shared word adds (a slip, "Made" and "Madt", or one
# name spelled two ways, "Bayu" and "Bayoe", counts as 100: `siblings_rest`).
SIBLING_REST = 90.0
# A birth date one slip away in another village of the district: how many strangers
# of a name this alike such a pair may be by chance, per person (`Screen.chance`:
# the name's words' shares of the registry, per birth day and district, times the
# ~40 dates one slip away). A name more common than this ("Septi Sasongko", "Ayu
# Siregar": two common words) needs the same village too; "Ahmad Yusuf Pangaribuan"
# or a Thai name does not. One in 10,000 is about how often a record is a duplicate
# with a slipped date from another village (chosen on the seed-2 tuning registries).
COMMON_CHANCE = 1e-4
# Below this edit similarity Jaro-Winkler is not consulted (`name_similarity`).
JW_FLOOR = 80.0
# A phonetic key this short says little ("Eko" and "Oki" are both "k").
SHORT_KEY = 4


@dataclass(frozen=True, slots=True)
class Verdict:
    score: float  # 0-1, for ordering the clerk's queue
    name: float  # 0-100
    matched: tuple[str, ...]  # which of name, birth_date, birth_date_near, place


def name_similarity(a: NameForms, b: NameForms, *, siblings: bool = True,
                    keys: bool = True) -> float:
    """0-100: the best of the sorted tokens' edit similarity, their Jaro-Winkler
    similarity (kind to a slip late in a long name), the words-in-common similarity
    (a typo in a first letter, which moves the word in the sorted order, or a dropped
    middle name), and the phonetic keys' (spelling and transliteration variants).
    `siblings` False: without the siblings' cap (`siblings_rest` is then the caller's);
    `keys` False: the spelled names only."""
    spelled = ratio(a.folded, b.folded)
    # Jaro-Winkler's prefix bonus misleads across names of different length ("Anisa",
    # "Anisa Fajar") and between names alike only in their first letters ("Hendri
    # Pangestu Zainal", "Hendra Rina Situmorang"): it counts only for names of as many
    # words, already JW_FLOOR alike by edits.
    if a.folded.count(" ") == b.folded.count(" ") and spelled >= JW_FLOOR:
        spelled = max(spelled, 100 * JaroWinkler.normalized_similarity(a.folded, b.folded) - 3)
    short = min(len(a.key), len(b.key)) < SHORT_KEY
    if short and a.key == b.key and len(a.key) >= SHORT_KEY - 1:  # "Putri", "Poetri"
        short = False
    best = spelled if short or not keys else max(spelled, KEY_WEIGHT * ratio(a.key, b.key))
    if a.script and b.script:
        # both in Thai script: a typo there can move a vowel sign or a final in the
        # letter-by-letter romanisation far more than one letter
        best = max(best, ratio(a.script, b.script),
                   _aligned(a.script.split(), b.script.split()))
    if " " in a.folded and " " in b.folded:  # "Eka" is in every "... Eka ..."
        best = max(best, SET_WEIGHT * token_set_ratio(a.folded, b.folded),
                   _aligned(a.folded.split(), b.folded.split()))
        # keys in common count only if one of them says something: "Hadi Edi" and
        # "Adi Setiawan" share only the key "d"
        if keys and any(len(k) >= 2 for k in set(a.key.split()) & set(b.key.split())):
            best = max(best, KEY_WEIGHT * SET_WEIGHT * token_set_ratio(a.key, b.key))
        if siblings:
            rest = siblings_rest(a, b)
            best = best if rest is None else min(best, 50 + rest / 2)
    return best


def _aligned(words_a: list[str], words_b: list[str]) -> float:
    """The edit similarity of the names with their words in common first, then the rest:
    a typo in a first letter moves its word in the sorted order ("Sinaga Siti", "Siti
    Tinaga"), and the sorted names then look further apart than one letter. 0 when the
    names share no word."""
    common = sorted(set(words_a) & set(words_b))
    if not common:
        return 0.0
    rest_a = [w for w in words_a if w not in common]
    rest_b = [w for w in words_b if w not in common]
    return ratio(" ".join(common + rest_a), " ".join(common + rest_b))


def dropped_middle(a: NameForms, b: NameForms) -> bool | None:
    """Whether one name is the other with a middle name left out, as written ("Dian
    Suryadi", "Dian Farhan Suryadi"): the first and last words kept. False when the
    words of one are in the other some other way: a first word left out ("Cahya
    Hartono", "Suryani Cahya Hartono") is how a sibling's name looks, and a form with a
    middle name dropped keeps the name the person goes by. None otherwise."""
    words_a, words_b = a.ordered.split(), b.ordered.split()
    shorter, longer = sorted((words_a, words_b), key=len)
    if len(longer) == len(shorter) or not set(shorter) <= set(longer):
        return None
    return len(shorter) >= 2 and len(longer) == len(shorter) + 1 and any(
        longer[:i] + longer[i + 1:] == shorter for i in range(1, len(longer) - 1))


def siblings_rest(a: NameForms, b: NameForms) -> float | None:
    """Brothers and sisters, twins above all, share a family name, a birth place and
    sometimes a birth date: when the names share a word, how alike what is left of
    each is (0-100; "Ani Prasetyo", "Dewi Prasetyo": the given names). None when they
    share no word or nothing is left of one (a dropped middle name)."""
    if " " not in a.folded or " " not in b.folded:
        return None
    words_a, words_b = a.folded.split(), b.folded.split()
    if a.script and b.script:  # a typo in Thai script is one letter there
        words_a, words_b = a.script.split(), b.script.split()
    common = set(words_a) & set(words_b)
    rest_a = [w for w in words_a if w not in common]
    rest_b = [w for w in words_b if w not in common]
    if not common or not rest_a or not rest_b:
        return None
    rest = ratio(" ".join(rest_a), " ".join(rest_b))
    if OSA.distance(" ".join(rest_a), " ".join(rest_b), score_cutoff=1) <= 1:
        return 100.0  # one typing slip: "Ayu", "Aju"; "Made", "Madt"
    keys_a, keys_b = (" ".join(sorted(map(phonetic, rest))) for rest in (rest_a, rest_b))
    # "Ayu" and "Ayoe", "Cahya" and "Tjahya": one name spelled two ways; but a key
    # drops the vowels, and "Indah" and "Nadia" (both "nd") start with other sounds
    if keys_a == keys_b and spelled(rest_a[0])[:1] == spelled(rest_b[0])[:1]:
        rest = 100.0
    elif min(len(keys_a), len(keys_b)) >= SHORT_KEY - 1:
        rest = max(rest, ratio(keys_a, keys_b))
    return rest


def near_date(a: dt.date, b: dt.date) -> bool:
    """Whether `b` is one typing slip from `a`: one digit of YYYYMMDD changed, two
    neighbouring digits swapped, or day and month swapped."""
    if a == b:
        return False
    x, y = a.strftime("%Y%m%d"), b.strftime("%Y%m%d")
    diff = [i for i in range(8) if x[i] != y[i]]
    if len(diff) == 1:
        return True
    if len(diff) == 2 and diff[1] == diff[0] + 1 and x[diff[0]] == y[diff[1]] \
            and x[diff[1]] == y[diff[0]]:
        return True
    return a.year == b.year and a.month == b.day and a.day == b.month


def near_dates(day: dt.date) -> list[dt.date]:
    """Every valid date one typing slip from `day` (`near_date`), for looking them up."""
    text = day.strftime("%Y%m%d")
    found: set[dt.date] = set()
    variants = [text[:i] + d + text[i + 1:] for i in range(8) for d in "0123456789"]
    variants += [text[:i] + text[i + 1] + text[i] + text[i + 2:] for i in range(7)]
    variants.append(text[:4] + text[6:8] + text[4:6])
    for variant in variants:
        try:
            found.add(dt.date(int(variant[:4]), int(variant[4:6]), int(variant[6:])))
        except ValueError:
            continue
    found.discard(day)
    return sorted(found)


def decide(name: float, same_date: bool, near: bool, same_place: bool,
           one_word: bool = False, long_names: bool = False, *,
           same_village: bool = False, uncapped: float | None = None,
           rest: float | None = None, dropped_word: bool | None = None,
           one_edit: bool = False, common: bool = False,
           long_word: bool = False, plain: float | None = None) -> Verdict | None:
    """The verdict for a pair, or None when it is not worth a clerk's time.

    `name` is `name_similarity`; `uncapped` the same without the siblings' cap;
    `plain` the spelled names' alone (no phonetic keys), without the cap; `rest`
    `siblings_rest`, `dropped_word` `dropped_middle`, `one_edit` whether the folded
    names are one typing slip apart (a letter changed, added, dropped, or two swapped)
    or have one phonetic key ("Rudi", "Roedi"). `common`: the name is common enough
    that strangers share it one slip apart in a district (COMMON_CHANCE).

    - A name of one word (`one_word`: either is) is a candidate only in the same
      district and on the same birth date, or in the same village on a date one slip
      away: a city has hundreds of people named just "Eka" born on any one day. A
      typo that a short one-word name does not survive ("Rudi", "Mudi": 75 alike) is
      let through only when the village is the same as well: the only other evidence
      there is; elsewhere in the district only for a name of four letters or more
      (`long_word`; "Desi", "Deii"), where one slip leaves most of it.
    - Twins (the same birth date, village and family name) are two people when their
      given names are not one slip apart (`rest` below SIBLING_REST). One name inside
      the other other than as a dropped middle name ("Panji Kurniawan", "Umi Panji
      Kurniawan") is a candidate on the same day only in the same village.
    - A slip in the birth date: in the district, a close name (NEAR_DATE_SAME_PLACE)
      that is not `common`;
      in the same village, a name with one more defect, by its spelling
      (NEAR_DATE_SAME_VILLAGE, `plain`: consonant skeletons in common are too weak
      for two defects: "Umar Suharto", "Suharti Maharani"), or a
      dropped middle name (`dropped_word`; one name inside the other in another way is
      not a candidate on a near date: `dropped_middle`). There the siblings' cap
      is lifted for given names one slip apart (twins share their birth date; a
      brother born years later has another name, not a misspelling of his brother's).
    `long_names`: both names have three words or more."""
    if same_date:
        if rest is not None and rest < SIBLING_REST and same_place:
            return None
        if dropped_word is False and not same_village:
            return None
        if (name >= SAME_DATE_ANYWHERE and long_names) or (
                same_place and name >= SAME_DATE_SAME_PLACE):
            matched = ("name", "birth_date") + (("place",) if same_place else ())
            return Verdict(_score(name, 1.0, same_place), name, matched)
        if one_word and same_place and one_edit and (same_village or long_word):
            return Verdict(_score(name, 1.0, True), name, ("name", "birth_date", "place"))
        return None
    if not (near and same_place) or dropped_word is False:
        return None
    if one_word:
        if same_village and (name >= SAME_DATE_SAME_PLACE or one_edit):
            return Verdict(_score(name, 0.7, True), name, ("name", "birth_date_near", "place"))
        return None
    close = name if plain is None else plain
    if rest is not None and rest < SIBLING_REST:
        close = min(close, name)  # the siblings' cap
    if (name >= NEAR_DATE_SAME_PLACE and not common) or (
            same_village and (dropped_word or close >= NEAR_DATE_SAME_VILLAGE)):
        return Verdict(_score(close, 0.7, True), close, ("name", "birth_date_near", "place"))
    return None


def _score(name: float, date: float, place: bool) -> float:
    return round(0.6 * name / 100 + 0.3 * date + (0.1 if place else 0.0), 4)
