"""Finding candidate pairs among many records at once, and for one new record.

Comparing every pair of a million people is 5 * 10^11 comparisons; blocking keeps
only pairs that could be a candidate (`score.decide`):

- the same birth date (about 35 people a day in a city of a million): every pair is
  compared, names with rapidfuzz's C loop (`process.extract` with a cut-off);
- a birth date one slip away: only pairs that also share the name's phonetic key and
  the birth year, or the key and the day and month (a slip in the year).

A single new record (`Screen.check`) looks up its own birth date and every date one
slip from it (`score.near_dates`, about 40), so a slip in both name and date is
caught there too. `review.check_citizen` does the same against the database.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import OSA, JaroWinkler
from rapidfuzz.fuzz import ratio, token_set_ratio

from backend.registry.dedup.keys import NameForms, forms, spelled
from backend.registry.dedup.score import (
    COMMON_CHANCE,
    KEY_WEIGHT,
    NEAR_DATE_SAME_VILLAGE,
    SAME_DATE_SAME_PLACE,
    SET_WEIGHT,
    Verdict,
    decide,
    dropped_middle,
    name_similarity,
    near_date,
    near_dates,
    siblings_rest,
)

# Fewer people than this say nothing of how common a name is (`Screen.chance`).
MIN_PEOPLE = 1000
# About how many dates are one typing slip from a birth date (`score.near_dates`).
NEAR_DATES = 40


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    name: str
    birth_date: dt.date
    place: str  # the district of the region code: where the person was registered


@dataclass(frozen=True, slots=True)
class Pair:
    new_id: int
    existing_id: int
    verdict: Verdict


def same_place(a: str, b: str) -> bool:
    return a[:6] == b[:6]


def one_slip(a: str, b: str) -> bool:
    """Whether two one-word names are one typing slip apart, as typed or as spelled:
    "Roedi" and "Rudi" are one spelling; "Dewi" and "Dwei" one slip as typed, though
    their spellings merge "dw" into another sound and differ by two."""
    return OSA.distance(a, b, score_cutoff=1) <= 1 or OSA.distance(
        spelled(a), spelled(b), score_cutoff=1) <= 1


class Screen:
    """People indexed by birth date and phonetic name key."""

    def __init__(self, people: Iterable[Person]) -> None:
        self.people: dict[int, Person] = {}
        self.forms: dict[int, NameForms] = {}
        self.by_date: dict[dt.date, list[int]] = defaultdict(list)
        self.words: Counter[str] = Counter()  # people with each name word
        self.districts: set[str] = set()
        for person in people:
            self.add(person)

    def add(self, person: Person) -> None:
        self.people[person.id] = person
        mine = self.forms[person.id] = forms(person.name)
        self.by_date[person.birth_date].append(person.id)
        self.words.update(set(mine.folded.split()))
        self.districts.add(person.place[:6])

    def chance(self, mine: NameForms) -> float:
        """How many strangers, per person, share a name with these words and a birth
        date one slip away in one district, by chance: the people indexed times the
        words' shares of them (people of the name, if its words were independent),
        per birth day and district, times the ~40 dates one slip away. The people
        indexed are the registry (an import) or the days around one birth date
        (registration): the shares and the people per day come out alike. 0 with
        fewer than MIN_PEOPLE indexed: too few to tell a common name."""
        total = len(self.people)
        if total < MIN_PEOPLE:
            return 0.0
        holders = float(total)
        for word in set(mine.folded.split()):
            holders *= (self.words[word] + 1) / total
        return holders / len(self.by_date) / max(len(self.districts), 1) * NEAR_DATES

    def check(self, person: Person) -> list[Pair]:
        """Candidates among the indexed people for one record (not itself indexed)."""
        mine = forms(person.name)
        found: list[Pair] = []
        for day in [person.birth_date, *near_dates(person.birth_date)]:
            for other in self.by_date.get(day, ()):
                pair = self._pair(person, mine, other)
                if pair is not None:
                    found.append(pair)
        return sorted(found, key=lambda p: -p.verdict.score)

    def _pair(self, person: Person, mine: NameForms, other_id: int) -> Pair | None:
        other = self.people[other_id]
        theirs = self.forms[other_id]
        uncapped = name_similarity(mine, theirs, siblings=False)
        rest = siblings_rest(mine, theirs)
        name = uncapped if rest is None else min(uncapped, 50 + rest / 2)
        one_word = " " not in mine.folded or " " not in theirs.folded
        village = person.place == other.place
        near = near_date(person.birth_date, other.birth_date)
        verdict = decide(name,
                         person.birth_date == other.birth_date,
                         near,
                         same_place(person.place, other.place),
                         one_word,
                         min(mine.folded.count(" "), theirs.folded.count(" ")) >= 2,
                         same_village=village, uncapped=uncapped,
                         rest=rest, dropped_word=dropped_middle(mine, theirs),
                         one_edit=one_word and one_slip(mine.folded, theirs.folded),
                         plain=name_similarity(mine, theirs, siblings=False, keys=False)
                         if village and near else None,
                         long_word=min(len(mine.folded), len(theirs.folded)) >= 4,
                         common=person.birth_date != other.birth_date
                         and self.chance(mine) >= COMMON_CHANCE)
        return None if verdict is None else Pair(person.id, other_id, verdict)

    def all_pairs(self) -> Iterator[Pair]:
        """Every candidate pair among the indexed people, each once (lower id as
        `existing_id`)."""
        yield from self._same_date_pairs()
        yield from self._near_date_pairs()

    def _same_date_pairs(self) -> Iterator[Pair]:
        yield from self._block_pairs(self.by_date.values(), SAME_DATE_SAME_PLACE,
                                     same_date=True)

    def _near_date_pairs(self) -> Iterator[Pair]:
        """Pairs in one district whose birth dates share all but the part a slip
        changed: (year, month) for the day, (year, day) for the month, (month, day)
        for the year, and (year, day and month in either order) for a swap."""
        blocks: dict[tuple[object, ...], list[int]] = defaultdict(list)
        for pid, person in self.people.items():
            born, place = person.birth_date, person.place[:6]
            blocks[(place, "ym", born.year, born.month)].append(pid)
            blocks[(place, "yd", born.year, born.day)].append(pid)
            blocks[(place, "md", born.month, born.day)].append(pid)
            blocks[(place, "swap", born.year, *sorted((born.month, born.day)))].append(pid)
        yield from self._block_pairs(blocks.values(), NEAR_DATE_SAME_VILLAGE, same_date=False)

    def _block_pairs(self, blocks: Iterable[list[int]], loosest: float, *,
                     same_date: bool) -> Iterator[Pair]:
        """Candidate pairs within each block. Names below the block's loosest threshold
        are skipped in C: a pair goes on to `name_similarity` only if one of its terms,
        computed alone in C, could reach the threshold (the edit ratios given 8 points
        of slack, for the siblings' cap and the weights). With `same_date` False, only
        pairs one slip apart in the birth date, each pair once whichever blocks it
        shares."""
        cutoff = loosest - 8
        seen: set[tuple[int, int]] = set()
        for ids in blocks:
            if len(ids) < 2:
                continue
            folded = [self.forms[i].folded for i in ids]
            keys = [self.forms[i].key for i in ids]
            scripts = [self.forms[i].script for i in ids]
            for n in range(1, len(ids)):
                new = self.people[ids[n]]
                near: set[int] = set()
                for choices, weight in ((folded, 1.0), (keys, KEY_WEIGHT)):
                    for scorer, w in ((ratio, weight), (token_set_ratio, weight * SET_WEIGHT)):
                        for _c, _s, j in process.extract(choices[n], choices[:n],
                                                         scorer=scorer, limit=None,
                                                         score_cutoff=cutoff / w):
                            near.add(j)
                if scripts[n]:  # a typo in Thai script: `name_similarity`
                    for _c, _s, j in process.extract(scripts[n], scripts[:n], limit=None,
                                                     scorer=ratio, score_cutoff=loosest):
                        near.add(j)
                for _c, _s, j in process.extract(folded[n], folded[:n], limit=None,
                                                 scorer=JaroWinkler.normalized_similarity,
                                                 score_cutoff=(loosest + 3) / 100):
                    near.add(j)
                if " " not in folded[n]:  # "Rudi", "Mudi"; "Roedi": `decide`
                    for _c, _s, j in process.extract(folded[n], folded[:n], limit=None,
                                                     scorer=OSA.distance, score_cutoff=1):
                        near.add(j)
                    mine = spelled(folded[n])
                    near.update(j for j in range(n) if " " not in folded[j]
                                and OSA.distance(mine, spelled(folded[j]), score_cutoff=1) <= 1)
                for j in sorted(near):
                    old = self.people[ids[j]]
                    if same_date != (old.birth_date == new.birth_date):
                        continue
                    first, second = sorted((new.id, old.id))
                    if not same_date:
                        if (first, second) in seen or not near_date(old.birth_date,
                                                                    new.birth_date):
                            continue
                        seen.add((first, second))
                    pair = self._pair(self.people[second], self.forms[second], first)
                    if pair is not None:
                        yield pair
