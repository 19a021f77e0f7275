"""Duplicate screening on a synthetic registry with planted duplicates.

    .venv/bin/python bench/bench_dedup.py --records 1000000 [--seed N] [--checks 2000]
        [--stock city|small]

Makes a registry in memory: Indonesian names and Thai names, some written in Thai
script, from syllables with their usual romanisations. `--stock city` (the default)
draws them from `dedup_names`' longer lists, unevenly (Zipf-like), with Javanese
names built from a root and an ending, and birth dates of a city's age pyramid;
`--stock small` is the earlier stock (the synthetic city's lists and a few more,
each name as likely as another, birth dates even over 85 years), kept to compare
with the earlier figures. Then plants duplicates of 1% of the people: the name with its order
swapped, a typo, another romanisation or the Thai script (Indonesian: the old
spelling), a dropped middle name, some with a slip in the birth date too; and hard
negatives: the same name, another person (another birth date and district), and
twins (the same birth date, district and family name, another given name).

Prints recall and precision of the whole-registry screen (`Screen.all_pairs`)
against the planted pairs (every pair found of two different people counts against
precision, chance look-alikes included; two duplicates planted of one person are one
person), its time, and the time of checking one new
record against the registry (`Screen.check`, what registration does), over
--checks planted duplicates, with that check's own recall.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import time
from collections import Counter
from itertools import accumulate
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.registry import synth
from backend.registry.dedup.screen import Person, Screen
from bench.dedup_names import MORE_THAI, Stock

MORE_GIVEN = ("Agung", "Bima", "Cahya", "Dedi", "Edi", "Fikri", "Galih", "Hendri",
              "Irfan", "Joni", "Krisna", "Lukman", "Made", "Nyoman", "Ketut", "Wayan",
              "Oki", "Panji", "Rangga", "Satria", "Taufik", "Umar", "Wahid", "Yoga",
              "Zainal", "Ayu", "Bunga", "Cindy", "Desi", "Erna", "Fatimah", "Gita",
              "Hesti", "Ika", "Juwita", "Kiki", "Lina", "Mira", "Novi", "Okta", "Puspita",
              "Ratih", "Septi", "Tuti", "Umi", "Vina", "Yanti", "Zulaikha", "Suryani",
              "Haryanto", "Sukarno", "Joko", "Cahyono", "Mulyadi", "Sudarsono")
MORE_FAMILY = ("Tanjung", "Nasution", "Simanjuntak", "Panjaitan", "Sinaga", "Manurung",
               "Pardede", "Situmorang", "Tampubolon", "Sitompul", "Ginting", "Tarigan",
               "Sembiring", "Purba", "Damanik", "Wirawan", "Hartono", "Sutanto",
               "Prasetyo", "Suharto", "Cahyadi", "Wibisono", "Sasongko", "Hadiwijaya",
               "Kusumawati", "Puspitasari", "Wulandari", "Yulianti", "Fitriani",
               "Suryadi", "Mahendra", "Pangestu", "Sudirman", "Pranoto", "Darmawan")
GIVEN = synth.MALE + synth.FEMALE + MORE_GIVEN
FAMILY = synth.SECOND + MORE_FAMILY
# Old Indonesian spellings still on many documents, new -> old.
OLD_SPELLING = (("u", "oe"), ("j", "dj"), ("c", "tj"), ("y", "j"), ("kh", "ch"))
# Thai syllables: the script, then romanisations in use (RTGS first).
THAI = (("สม", "som"), ("ชาย", "chai", "chay", "chaai"), ("ศรี", "si", "sri", "see"),
        ("สุข", "suk", "sook", "sukh"), ("ประ", "pra", "phra"), ("เสริฐ", "soet", "sert"),
        ("ทอง", "thong", "tong"), ("ดี", "di", "dee"), ("กิตติ", "kitti", "kiti"),
        ("บุญ", "bun", "boon", "boun"), ("มี", "mi", "mee"), ("รัตน", "rat", "rath", "ratt"),
        ("พงษ์", "phong", "pong"), ("แก้ว", "kaeo", "kaew"), ("ใจ", "chai", "jai"),
        ("วงศ์", "wong", "vong"), ("จันทร์", "chan", "jan"), ("นาค", "nak", "nark"),
        ("สวัสดิ์", "sawat", "sawad"), ("ชัย", "chai", "chay"), ("วิ", "wi", "vi"),
        ("ไล", "lai", "lay"), ("มณี", "mani", "manee"), ("อนันต์", "anan", "arnan"),
        ("ภู", "phu", "pu", "poo"), ("มิ", "mi"), ("ทร", "thon", "thorn", "torn"),
        ("สุ", "su"), ("ดา", "da"), ("พร", "phon", "porn", "pon"), ("นิ", "ni"),
        ("ยม", "yom"), ("ปาน", "pan", "parn"), ("เพ็ญ", "phen", "pen"), ("ศักดิ์", "sak"),
        ("วัฒน", "watthana", "wattana", "vattana"), ("กุล", "kun", "kul", "goon"),
        ("ลักษณ์", "lak", "luck"), ("ทิพ", "thip", "tip", "thipp"), ("อรุณ", "arun", "aroon"),
        ("เจริญ", "charoen", "charern", "jaroen"), ("นวล", "nuan", "nual"),
        ("สาย", "sai", "say"), ("ทิ", "thi", "ti"), ("วรรณ", "wan", "wann", "vanna"))
DISTRICTS = len(synth.DISTRICTS)


# A city's age pyramid: the share of people born in each year 1940-2024, flat to 40
# years of age, then thinning to a sixth at 85.
YEARS = range(1940, 2025)
YEAR_WEIGHTS = list(accumulate(1.0 if 2025 - y <= 40 else
                               1.0 - 0.85 * (2025 - y - 40) / 45 for y in YEARS))


class Registry:
    def __init__(self, rng: random.Random, stock: str = "city") -> None:
        self.rng = rng
        self.people: list[Person] = []
        # per person: how to spell variants (Thai: the syllables of each word)
        self.thai: dict[int, list[list[int]]] = {}
        self.city = stock == "city"
        self.syllables = THAI + MORE_THAI if self.city else THAI
        self.stock = Stock(rng, len(self.syllables))

    def region(self) -> str:
        return (f"{synth.CITY_CODE}{self.rng.randrange(DISTRICTS) + 1:02d}"
                f"{1000 + self.rng.randint(1, 12):04d}")

    def date(self) -> dt.date:
        if not self.city:
            return dt.date(1940, 1, 1) + dt.timedelta(days=self.rng.randrange(31_000))
        year = self.rng.choices(YEARS, cum_weights=YEAR_WEIGHTS)[0]
        return dt.date(year, 1, 1) + dt.timedelta(days=self.rng.randrange(365))

    def given(self, other_than: str = "") -> str:
        while True:
            name = self.stock.given() if self.city else self.rng.choice(GIVEN)
            if name != other_than:
                return name

    def add(self, name: str, born: dt.date, region: str) -> Person:
        person = Person(len(self.people) + 1, name, born, region)
        self.people.append(person)
        return person

    def indonesian(self) -> str:
        rng = self.rng
        if not self.city:
            words = [rng.choice(GIVEN)]
            if rng.random() < 0.5:
                words.append(rng.choice(GIVEN))
            if rng.random() < 0.85:
                words.append(rng.choice(FAMILY))
            return " ".join(words)
        words = [self.stock.given()]
        if rng.random() < 0.5:
            words.append(self.stock.given())
        if rng.random() < 0.85:
            words.append(self.stock.family())
        return " ".join(words)

    def thai_words(self) -> list[list[int]]:
        rng = self.rng
        if not self.city:
            return [[rng.randrange(len(THAI)) for _ in range(rng.randint(1, 2))],
                    [rng.randrange(len(THAI)) for _ in range(rng.randint(2, 3))]]
        syllable = self.stock.thai_syllable
        return [[syllable() for _ in range(rng.randint(1, 2))],
                [syllable() for _ in range(rng.randint(2, 4))]]

    def spell(self, words: list[list[int]], script: bool, variant: bool) -> str:
        out = []
        for word in words:
            table = self.syllables
            if script:
                out.append("".join(table[s][0] for s in word))
            else:
                out.append("".join(
                    (self.rng.choice(table[s][1:]) if variant else table[s][1]) for s in word
                ).capitalize())
        return " ".join(out)


THAI_LETTERS = "กคงจชดตทนบปพมยรลวสหอาิีุู"


def typo(rng: random.Random, name: str) -> str:
    letters = [i for i, c in enumerate(name) if c.isalpha()]
    i = rng.choice(letters)
    kind = rng.randrange(4)
    thai = "\u0e00" <= name[i] <= "\u0e7f"
    if kind == 0:
        new = rng.choice(THAI_LETTERS if thai else "aeiounmrstkh")
        return name[:i] + (new if thai or name[i].islower() else new.upper()) + name[i + 1:]
    if kind == 1 and len(letters) > 6:
        return name[:i] + name[i + 1:]
    if kind == 2:
        return name[:i] + name[i] + name[i:]
    if i + 1 < len(name) and name[i + 1].isalpha():
        return name[:i] + name[i + 1] + name[i] + name[i + 2:]
    return name[:i] + rng.choice("าิีุู" if thai else "aeiou") + name[i + 1:]


def swap(name: str) -> str:
    words = name.split()
    return " ".join(words[1:] + words[:1]) if len(words) > 1 else name


def slip(rng: random.Random, born: dt.date) -> dt.date:
    """The birth date with one typing slip (a digit, or day and month swapped)."""
    while True:
        text = born.strftime("%Y%m%d")
        if rng.random() < 0.15 and born.day <= 12 and born.day != born.month:
            return dt.date(born.year, born.day, born.month)
        i = rng.choice((2, 3, 4, 5, 6, 7))  # the century is not mistyped
        text = text[:i] + rng.choice("0123456789") + text[i + 1:]
        try:
            day = dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
        except ValueError:
            continue
        if day != born:
            return day


def variant(reg: Registry, base: Person, kind: str) -> str:
    rng = reg.rng
    thai = reg.thai.get(base.id)
    if kind == "swap":
        return swap(base.name)
    if kind == "typo":
        return typo(rng, base.name)
    if kind == "swap+typo":
        return typo(rng, swap(base.name))
    if kind == "translit":
        if thai is not None:
            script = rng.random() < 0.4 and not any("\u0e00" <= c <= "\u0e7f"
                                                     for c in base.name)
            return reg.spell(thai, script=script, variant=True)
        name = base.name.lower()
        old, new = rng.choice([(o, n) for n, o in OLD_SPELLING if n in name] or [("", "")])
        return (name.replace(new, old, 1) if old else typo(rng, base.name)).title()
    words = base.name.split()  # a dropped middle name, or a typo if there is none
    if len(words) >= 3:
        return " ".join(words[:1] + words[2:])
    return typo(rng, base.name)


KINDS = ("swap", "typo", "translit", "swap+typo", "dropped")


def build(records: int, seed: int, stock: str = "city"
          ) -> tuple[Registry, set[tuple[int, int]], list[Person]]:
    rng = random.Random(seed)
    reg = Registry(rng, stock)
    planted_share, negative_share, twin_share = 0.01, 0.005, 0.002
    base_count = int(records * (1 - planted_share - negative_share - twin_share))
    for _ in range(base_count):
        if rng.random() < 0.2:
            words = reg.thai_words()
            person = reg.add(reg.spell(words, script=rng.random() < 0.3, variant=False),
                             reg.date(), reg.region())
            reg.thai[person.id] = words
        else:
            reg.add(reg.indonesian(), reg.date(), reg.region())
    planted: set[tuple[int, int]] = set()
    duplicates: list[Person] = []
    for _ in range(int(records * planted_share)):
        base = reg.people[rng.randrange(base_count)]
        kind = rng.choice(KINDS)
        born = slip(rng, base.birth_date) if rng.random() < 0.15 else base.birth_date
        region = base.place if rng.random() < 0.8 else base.place[:6] + f"{rng.randint(1001, 1012)}"
        dup = reg.add(variant(reg, base, kind), born, region)
        planted.add((base.id, dup.id))
        duplicates.append(dup)
    for _ in range(int(records * negative_share)):
        base = reg.people[rng.randrange(base_count)]
        region = reg.region()
        while region[:6] == base.place[:6]:
            region = reg.region()
        reg.add(base.name, reg.date(), region)
    for _ in range(int(records * twin_share)):
        base = reg.people[rng.randrange(base_count)]
        if base.id in reg.thai:
            words = reg.thai[base.id]
            name = reg.spell([reg.thai_words()[0], words[1]], script=False, variant=False)
        else:
            words = base.name.split()
            given = (reg.given(other_than=words[0]) if reg.city
                     else rng.choice([g for g in GIVEN if g != words[0]]))
            name = f"{given} {words[-1]}" if len(words) > 1 else given
        reg.add(name, base.birth_date, base.place)
    return reg, planted, duplicates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--checks", type=int, default=2000,
                        help="planted duplicates checked one at a time, as registration does")
    parser.add_argument("--misses", type=int, default=0, help="print this many misses")
    parser.add_argument("--stock", choices=("city", "small"), default="city",
                        help="the name stock and birth dates (see above)")
    args = parser.parse_args()
    started = time.perf_counter()
    reg, planted, duplicates = build(args.records, args.seed, args.stock)
    made = time.perf_counter() - started
    started = time.perf_counter()
    screen = Screen(reg.people)
    indexed = time.perf_counter() - started
    started = time.perf_counter()
    found = {(p.existing_id, p.new_id) for p in screen.all_pairs()}
    screened = time.perf_counter() - started
    # A pair is right when both are the one person: a base and its duplicate, or two
    # duplicates planted of one base (the screen cannot know which came first).
    person_of = {new: old for old, new in planted}
    right = {(a, b) for a, b in found if person_of.get(a, a) == person_of.get(b, b)}
    hits = len(found & planted)
    recall, precision = hits / len(planted), len(right) / max(len(found), 1)
    print(f"records {len(reg.people):,} (seed {args.seed}); planted duplicates "
          f"{len(planted):,}; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    print(f"made in {made:.1f} s; indexed (name forms) in {indexed:.1f} s")
    _namesakes(reg, planted)
    print(f"whole-registry screen: {screened:.1f} s; pairs found {len(found):,}; "
          f"recall {recall:.2%} ({hits:,}/{len(planted):,}); precision {precision:.2%} "
          f"({len(found) - len(right):,} pairs of different people)")
    people = {p.id: p for p in reg.people}
    for a, b in sorted(planted - found)[:args.misses]:
        print("  missed:", people[a], "|", people[b])
    for a, b in sorted(found - right)[:args.misses]:
        print("  extra: ", people[a], "|", people[b])
    _checks(reg, screen, planted, duplicates, args.checks)


def _namesakes(reg: Registry, planted: set[tuple[int, int]]) -> None:
    """How poor the stock is: distinct names, and the people (duplicates planted left
    out) who share their exact name and birth date with someone else in their district:
    no rule on name, date and place can tell such a pair from a duplicate."""
    copies = {new for _old, new in planted}
    names = Counter(p.name for p in reg.people)
    same = Counter((p.name, p.birth_date, p.place[:6]) for p in reg.people
                   if p.id not in copies)
    shared = sum(n for n in same.values() if n > 1)
    print(f"stock {'city' if reg.city else 'small'}: {len(names):,} distinct names; "
          f"{shared:,} people share name, birth date and district with another")


def _checks(reg: Registry, screen: Screen, planted: set[tuple[int, int]],
            duplicates: list[Person], count: int) -> None:
    """One new record at a time against the registry (without itself), as at registration."""
    sample = duplicates[:count]
    base_of = {new: old for old, new in planted}
    times: list[float] = []
    hit = 0
    for dup in sample:
        del screen.people[dup.id]  # the record is new: not yet in the registry
        bucket = screen.by_date[dup.birth_date]
        bucket.remove(dup.id)
        started = time.perf_counter()
        pairs = screen.check(dup)
        times.append(time.perf_counter() - started)
        hit += any(p.existing_id == base_of[dup.id] for p in pairs)
        screen.people[dup.id] = dup
        bucket.append(dup.id)
    times.sort()
    print(f"one new record checked (birth date and the ~40 dates one slip away), over "
          f"{len(sample):,}: median {times[len(times) // 2] * 1e3:.2f} ms, "
          f"p99 {times[int(len(times) * 0.99)] * 1e3:.2f} ms; recall {hit / len(sample):.2%}")


if __name__ == "__main__":
    main()
