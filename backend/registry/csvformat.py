"""The registry's CSV format, and the checks each row must pass before anything is written.

One row per person, UTF-8, comma separated, quoted as RFC 4180, a header row naming the
columns (any order; the five marked * are required, the others may be left out):

  national_number*   NIK (16 digits) or another configured format; must agree with
                     birth_date and sex
  full_name*         as on the identity card
  birth_date*        YYYY-MM-DD
  sex*               F or M
  region_code*       10 digits, PPRRDDVVVV (province, regency, district, village)
  address            street, RT/RW
  language           preferred language code, default `id`
  photo_ref          reference to the photo in the document store
  died_on            YYYY-MM-DD, if the person has died
  family_card_number the household's family card (KK), 16 digits
  relationship       head | spouse | child | parent | other (needed with a family card)
  welfare_decile     1..10, the household's welfare ranking (the same on all its rows,
                     or blank on all)
  school_code, school_name, school_level (primary|junior|senior), school_grade (1..12),
  academic_year (YYYY/YYYY)            a current school enrolment: all five or none
  health_facility_code, health_facility_name, jkn_class (1..3), premium_assisted
  (true|false)                         the JKN membership and clinic: the first three or none

A household is the set of rows sharing a family_card_number: exactly one of them is
the `head`, whose region_code is the household's. A family card or national number
already in the registry, or given twice in the file, is an error.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from backend.registry import national_ids
from backend.registry.models import RELATIONSHIPS, SCHOOL_LEVELS
from backend.registry.names import clean_name, fold_name

REQUIRED = ("national_number", "full_name", "birth_date", "sex", "region_code")
OPTIONAL = ("address", "language", "photo_ref", "died_on", "family_card_number",
            "relationship", "welfare_decile", "school_code", "school_name", "school_level",
            "school_grade", "academic_year", "health_facility_code", "health_facility_name",
            "jkn_class", "premium_assisted")
COLUMNS = REQUIRED + OPTIONAL
SCHOOL = ("school_code", "school_name", "school_level", "school_grade", "academic_year")
HEALTH = ("health_facility_code", "health_facility_name", "jkn_class")

# What a valid row becomes: the staging table's columns, in this order.
STAGED = ("line", "national_number", "full_name", "name_search", "birth_date", "sex",
          "address", "region_code", "language", "photo_ref", "died_on",
          "family_card_number", "relationship", "welfare_decile", "school_code",
          "school_name", "school_level", "school_grade", "academic_year",
          "facility_code", "facility_name", "jkn_class", "premium_assisted")

_REGION = re.compile(r"\d{10}")
# NUL cannot be stored in PostgreSQL text (it broke the COPY), and no other control
# character belongs in a register; tab and line breaks inside quoted fields may stay.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z]{2})?")
_YEAR = re.compile(r"(\d{4})/(\d{4})")
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f", ""}
_SMALL_INTS = {str(n): n for n in range(100)} | {f"0{n}": n for n in range(10)}
_NO_SCHOOL = (None,) * 5
_NO_HEALTH = (None,) * 4


@dataclass(frozen=True)
class RowError:
    line: int
    column: str | None
    problem: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", {self.column}" if self.column else "")
        return f"{where}: {self.problem}"


class BadRow(ValueError):
    def __init__(self, column: str | None, problem: str) -> None:
        super().__init__(problem)
        self.column = column
        self.problem = problem


def check_header(header: Sequence[str]) -> tuple[dict[str, int], list[RowError]]:
    """Where each column is, and what is wrong with the header (line 1)."""
    names = [name.strip().lstrip("\ufeff") for name in header]
    errors = [RowError(1, name, "unknown column") for name in names if name not in COLUMNS]
    errors += [RowError(1, name, "required column missing") for name in REQUIRED
               if name not in names]
    errors += [RowError(1, name, "column given twice") for name in set(names)
               if names.count(name) > 1]
    return {name: i for i, name in enumerate(names)}, errors


class RowParser:
    """Turns a CSV row into a staged tuple, or raises BadRow naming column and problem.

    This runs once per person of a city: the row is put in COLUMNS order with one list
    comprehension, values a city repeats (region codes, languages, family cards) are
    checked once and remembered, and absent school or health columns cost no calls.
    """

    def __init__(self, positions: dict[str, int], formats: Sequence[str],
                 today: dt.date | None = None) -> None:
        self.formats = tuple(formats)
        self.today = today or dt.date.today()
        self.width = len(positions)
        self.order = [positions.get(name) for name in COLUMNS]
        self.names = {index: name for name, index in positions.items()}
        self.regions: set[str] = set()
        self.languages: set[str] = set()
        self.cards: set[str] = set()

    def parse(self, line: int, row: Sequence[str]) -> tuple[Any, ...]:
        if len(row) != self.width:
            raise BadRow(None, f"{len(row)} fields, the header has {self.width}")
        if _CONTROL.search("".join(row)):
            column = next(i for i, field in enumerate(row) if _CONTROL.search(field))
            raise BadRow(self.names.get(column), "control characters are not allowed")
        (number_text, name, birth_text, sex, region, address, language, photo, died,
         card, relation, decile, *rest) = [
            "" if i is None else row[i].strip() for i in self.order]
        birth = self._date(birth_text, "birth_date")
        if birth > self.today or birth.year < 1880:
            raise BadRow("birth_date", "not a plausible birth date")
        sex = sex.upper()
        if sex != "F" and sex != "M":
            raise BadRow("sex", "F or M")
        number, problems = national_ids.validate(number_text, self.formats, birth, sex)
        if problems:
            raise BadRow("national_number", "; ".join(f"{p.format}: {p.problem}"
                                                      for p in problems))
        name = clean_name(name)
        if not name or len(name) > 200:
            raise BadRow("full_name", "1 to 200 characters")
        if region not in self.regions:
            if not _REGION.fullmatch(region) or region[:2] not in national_ids.PROVINCES:
                raise BadRow("region_code", "10 digits starting with a province code")
            self.regions.add(region)
        if len(address) > 300:
            raise BadRow("address", "at most 300 characters")
        language = language or "id"
        if language not in self.languages:
            if not _LANGUAGE.fullmatch(language):
                raise BadRow("language", "a language code such as id, jv, en")
            self.languages.add(language)
        if len(photo) > 200:
            raise BadRow("photo_ref", "at most 200 characters")
        died_on = None
        if died:
            died_on = self._date(died, "died_on")
            if not birth <= died_on <= self.today:
                raise BadRow("died_on", "between the birth date and today")
        school, health = rest[:5], rest[5:]
        # Dates go on as ISO text, whatever form fromisoformat accepted.
        return (line, number, name, fold_name(name), birth.isoformat(), sex, address, region,
                language, photo or None, died_on and died_on.isoformat(),
                *self._household(card, relation, decile),
                *(self._school(*school) if any(school) else _NO_SCHOOL),
                *(self._health(*health) if any(health) else _NO_HEALTH))

    @staticmethod
    def _date(text: str, column: str) -> dt.date:
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise BadRow(column, f"{text!r} is not a date (YYYY-MM-DD)") from None

    @staticmethod
    def _int(text: str, column: str, low: int, high: int) -> int:
        value = _SMALL_INTS.get(text)
        if value is None or not low <= value <= high:
            raise BadRow(column, f"a whole number from {low} to {high}")
        return value

    def _household(self, card: str, relation: str, decile: str) -> tuple[Any, ...]:
        if not card:
            if relation or decile:
                raise BadRow("family_card_number", "needed with relationship or decile")
            return (None, None, None)
        if card not in self.cards:
            problem = national_ids.check_family_card(card)
            if problem:
                raise BadRow("family_card_number", problem)
            self.cards.add(card)
        if relation not in RELATIONSHIPS:
            raise BadRow("relationship", " | ".join(RELATIONSHIPS))
        return (card, relation, self._int(decile, "welfare_decile", 1, 10) if decile else None)

    def _school(self, code: str, name: str, level: str, grade: str,
                year: str) -> tuple[Any, ...]:
        for column, value in zip(SCHOOL, (code, name, level, grade, year), strict=True):
            if not value:
                raise BadRow(column, "a school enrolment needs all five school columns")
        if level not in SCHOOL_LEVELS:
            raise BadRow("school_level", " | ".join(SCHOOL_LEVELS))
        years = _YEAR.fullmatch(year)
        if not years or int(years[2]) != int(years[1]) + 1:
            raise BadRow("academic_year", "YYYY/YYYY, consecutive years")
        if len(code) > 32 or len(name) > 200:
            raise BadRow("school_code", "code at most 32, name at most 200 characters")
        return (code, name, level, self._int(grade, "school_grade", 1, 12), year)

    def _health(self, code: str, name: str, jkn_class: str, assisted: str
                ) -> tuple[Any, ...]:
        for column, value in zip(HEALTH, (code, name, jkn_class), strict=True):
            if not value:
                raise BadRow(column, "a health assignment needs facility code, name and class")
        if len(code) > 32 or len(name) > 200:
            raise BadRow("health_facility_code", "code at most 32, name at most 200 characters")
        assisted = assisted.lower()
        if assisted not in _TRUE and assisted not in _FALSE:
            raise BadRow("premium_assisted", "true or false")
        return (code, name, self._int(jkn_class, "jkn_class", 1, 3), assisted in _TRUE)


class AcrossRows:
    """The rules between rows of one file, checked as the rows stream past.

    A national number given twice; a family card whose rows have not exactly one head
    or disagree on the decile. A household with a bad row is left to that row's error.
    """

    def __init__(self) -> None:
        self.numbers: dict[str, int] = {}
        self.cards: dict[str, list[Any]] = {}  # card -> [first line, heads, deciles]
        self.tainted: set[str] = set()

    def add(self, staged: tuple[Any, ...]) -> RowError | None:
        line, number, card = staged[0], staged[1], staged[11]
        first = self.numbers.setdefault(number, line)
        if first != line:
            return RowError(line, "national_number", f"also on line {first}")
        if card is not None:
            entry = self.cards.get(card)
            if entry is None:
                entry = self.cards[card] = [line, 0, set()]
            entry[1] += staged[12] == "head"
            entry[2].add(staged[13])
        return None

    def taint(self, card: str) -> None:
        self.tainted.add(card)

    def households(self) -> list[RowError]:
        errors = []
        for card, (line, heads, deciles) in self.cards.items():
            if card in self.tainted:
                continue
            if heads != 1:
                errors.append(RowError(line, "relationship", f"family card {card} has "
                                       f"{heads} heads; it needs exactly one"))
            if len(deciles) > 1:
                errors.append(RowError(line, "welfare_decile", f"the rows of family card "
                                       f"{card} give different deciles"))
        return errors
