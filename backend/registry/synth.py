"""A synthetic city registry: realistic households for the demo, the tests and benchmarks.

Deterministic for a seed. Households of one to eight people in the districts and
villages of one city (by default Kota Surabaya, 3578): a head, usually a spouse,
children, sometimes an elderly parent; valid NIKs registered in the household's
district; a family card per household; a welfare decile; school enrolment for
school-age children; JKN membership (premium-assisted class 3 for the lowest four
deciles). Rows are in `backend.registry.csvformat` columns, so the output imports as is.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from backend.registry.csvformat import COLUMNS
from backend.registry.national_ids import make_nik

CITY_CODE = "3578"
CITY = "Surabaya"
DISTRICTS = (
    "Asemrowo", "Benowo", "Bubutan", "Bulak", "Dukuh Pakis", "Gayungan", "Genteng",
    "Gubeng", "Gunung Anyar", "Jambangan", "Karang Pilang", "Kenjeran", "Krembangan",
    "Lakarsantri", "Mulyorejo", "Pabean Cantian", "Pakal", "Rungkut", "Sambikerep",
    "Sawahan", "Semampir", "Simokerto", "Sukolilo", "Sukomanunggal", "Tambaksari",
    "Tandes", "Tegalsari", "Tenggilis Mejoyo", "Wiyung", "Wonocolo", "Wonokromo",
)
MALE = ("Budi", "Agus", "Joko", "Slamet", "Bambang", "Hendra", "Rudi", "Eko", "Dwi",
        "Ahmad", "Muhammad", "Rizky", "Fajar", "Dimas", "Bayu", "Yusuf", "Arif", "Hadi",
        "Teguh", "Wahyu", "Sugeng", "Putra", "Andi", "Imam", "Gilang", "Reza", "Adi",
        "Hari", "Iwan", "Bagus", "Sutrisno", "Suparman", "Ilham", "Farhan", "Aditya")
FEMALE = ("Siti", "Sri", "Dewi", "Ani", "Rina", "Wati", "Nur", "Lestari", "Indah", "Ayu",
          "Fitri", "Putri", "Yuliana", "Ratna", "Endang", "Sulastri", "Nurul", "Dian",
          "Aisyah", "Nabila", "Rahma", "Kartini", "Wulan", "Intan", "Anisa", "Eka",
          "Tri", "Suharti", "Margaretha", "Maria", "Nadia", "Zahra", "Citra", "Mega")
SECOND = ("Santoso", "Wijaya", "Saputra", "Hidayat", "Setiawan", "Kurniawan", "Pratama",
          "Rahmawati", "Susanti", "Handayani", "Purnomo", "Nugroho", "Wibowo", "Siregar",
          "Lubis", "Hasibuan", "Sihombing", "Harahap", "Syahputra", "Maharani", "Utami",
          "Permata", "Sari", "Rahayu", "Anggraini", "Kusuma", "Halim", "Gunawan", "Tan")
STREETS = ("Melati", "Mawar", "Kenanga", "Diponegoro", "Ahmad Yani", "Sudirman",
           "Pahlawan", "Merdeka", "Kapas Krampung", "Kertajaya", "Darmo", "Raya Kupang",
           "Manyar", "Ngagel", "Rungkut Industri", "Wonokitri", "Kedung Cowek")
LANGUAGES = ("id",) * 14 + ("jv",) * 4 + ("mad",) + ("en",)


class Generator:
    """Yields rows (dicts by column) household by household, for a given number of people."""

    def __init__(self, seed: int = 1, today: dt.date | None = None,
                 city_code: str = CITY_CODE) -> None:
        self.rng = random.Random(seed)
        self.today = today or dt.date.today()
        self.city_code = city_code
        self.nik_sequences: Counter[str] = Counter()
        self.card_sequences: Counter[str] = Counter()
        start = self.today.year if self.today.month >= 7 else self.today.year - 1
        self.academic_year = f"{start}/{start + 1}"
        self.school_year_start = dt.date(start, 7, 15)

    def rows(self, citizens: int) -> Iterator[dict[str, str]]:
        made = 0
        while made < citizens:
            for row in self.household(limit=citizens - made):
                made += 1
                yield row

    def household(self, limit: int) -> list[dict[str, str]]:
        rng = self.rng
        district = rng.randrange(len(DISTRICTS)) + 1
        region6 = f"{self.city_code}{district:02d}"
        region = f"{region6}{1000 + rng.randint(1, 12):04d}"
        decile = min(10, max(1, int(rng.triangular(1, 11, 3))))
        address = (f"Jl. {rng.choice(STREETS)} No. {rng.randint(1, 250)}, "
                   f"RT {rng.randint(1, 15):03d}/RW {rng.randint(1, 12):03d}, "
                   f"{DISTRICTS[district - 1]}, {CITY}")
        card = self._family_card(region6)
        people = self._members()[:limit]
        rows = []
        for relationship, sex, birth in people:
            row = self._person(region6, region, address, sex, birth, relationship)
            row.update(family_card_number=card, relationship=relationship,
                       welfare_decile=str(decile))
            self._school(row, birth, district)
            self._health(row, decile, district)
            rows.append(row)
        return rows

    def _members(self) -> list[tuple[str, str, dt.date]]:
        rng = self.rng
        head_age = rng.randint(22, 80)
        head_sex = "M" if rng.random() < 0.82 else "F"
        members = [("head", head_sex, self._birth(head_age))]
        if head_sex == "M" and head_age < 75 and rng.random() < 0.85:
            members.append(("spouse", "F", self._birth(max(18, head_age - rng.randint(0, 8)))))
        children = rng.choice((0, 1, 1, 2, 2, 2, 3, 3, 4, 5)) if head_age < 65 else 0
        for _ in range(children):
            oldest = min(head_age - 19, 30)
            if oldest < 0:
                break
            members.append(("child", rng.choice("FM"), self._birth(rng.randint(0, oldest))))
        if head_age < 55 and rng.random() < 0.08:
            parent_age = head_age + rng.randint(22, 32)
            members.append(("parent", rng.choice("FM"), self._birth(parent_age)))
        if rng.random() < 0.03:
            members.append(("other", rng.choice("FM"), self._birth(rng.randint(5, 70))))
        return members

    def _birth(self, age: int) -> dt.date:
        return self.today - dt.timedelta(days=age * 365 + self.rng.randint(0, 364))

    def _person(self, region6: str, region: str, address: str, sex: str, birth: dt.date,
                relationship: str) -> dict[str, str]:
        rng = self.rng
        given = rng.choice(FEMALE if sex == "F" else MALE)
        name = given if rng.random() < 0.25 else f"{given} {rng.choice(SECOND)}"
        prefix = make_nik(region6, birth, sex, 0)[:12]
        self.nik_sequences[prefix] += 1
        return {"national_number": f"{prefix}{self.nik_sequences[prefix]:04d}",
                "full_name": name, "birth_date": birth.isoformat(), "sex": sex,
                "address": address, "region_code": region,
                "language": rng.choice(LANGUAGES), "photo_ref": "", "died_on": ""}

    def _family_card(self, region6: str) -> str:
        issued = self.today - dt.timedelta(days=self.rng.randint(30, 7000))
        prefix = f"{region6}{issued:%d%m%y}"
        self.card_sequences[prefix] += 1
        return f"{prefix}{self.card_sequences[prefix]:04d}"

    def _school(self, row: dict[str, str], birth: dt.date, district: int) -> None:
        age = (self.school_year_start - birth).days // 365
        if not 7 <= age <= 18 or self.rng.random() < 0.04:
            return
        grade = age - 6
        level, kind = (("primary", "SD") if grade <= 6 else ("junior", "SMP") if grade <= 9
                       else ("senior", "SMA"))
        number = self.rng.randint(1, 12)
        kind_digit = {"SD": 1, "SMP": 2, "SMA": 3}[kind]
        row.update(school_code=f"20{district:02d}{kind_digit}{number:03d}",
                   school_name=f"{kind} Negeri {number} {DISTRICTS[district - 1]}",
                   school_level=level, school_grade=str(grade),
                   academic_year=self.academic_year)

    def _health(self, row: dict[str, str], decile: int, district: int) -> None:
        if self.rng.random() < 0.12:
            return
        assisted = decile <= 4
        row.update(health_facility_code=f"1357{district:02d}01",
                   health_facility_name=f"Puskesmas {DISTRICTS[district - 1]}",
                   jkn_class="3" if assisted else str(self.rng.choice((1, 2, 2, 3, 3))),
                   premium_assisted="true" if assisted else "false")


PROGRESS_EVERY = 10_000


def write_csv(out: IO[str], citizens: int, seed: int = 1, today: dt.date | None = None,
              progress: Callable[[int], None] | None = None) -> int:
    """Write a synthetic registry of `citizens` people as CSV; returns the rows written.

    `progress(n)` hears of every PROGRESS_EVERY rows written (a city of millions takes
    minutes), and of the rest at the end.
    """
    writer = csv.DictWriter(out, fieldnames=COLUMNS, restval="", lineterminator="\n")
    writer.writeheader()
    count = 0
    for row in Generator(seed, today).rows(citizens):
        writer.writerow(row)
        count += 1
        if progress is not None and count % PROGRESS_EVERY == 0:
            progress(PROGRESS_EVERY)
    if progress is not None:
        progress(count % PROGRESS_EVERY)
    return count


def write_file(path: Path, citizens: int, seed: int = 1, today: dt.date | None = None,
               progress: Callable[[int], None] | None = None) -> int:
    with path.open("w", newline="", encoding="utf-8") as handle:
        return write_csv(handle, citizens, seed, today, progress)
