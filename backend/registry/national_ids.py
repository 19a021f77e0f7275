"""National numbers: which formats a city accepts and what exactly is wrong with one.

The formats a city accepts are configured (SATUKARTU_NATIONAL_ID_FORMATS); a number is
valid when one of them accepts it. Each check returns the problem in words a clerk can
act on ("province code 10 does not exist"), never just "invalid".

Indonesia's NIK (Nomor Induk Kependudukan), 16 digits:
    PP RR DD  DDMMYY  SSSS
    province, regency, district of registration; birth date, with 40 added to the
    day for women; a sequence number, never 0000.
Thailand's citizen number, 13 digits: the last is a check digit,
    (11 - sum(digit_i * (13 - i) for the first 12) mod 11) mod 10.
`generic`: 5 to 32 letters and digits, for cities whose numbers have no structure.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

# Province codes of the Ministry of Home Affairs (Kemendagri), 38 provinces.
PROVINCES: dict[str, str] = {
    "11": "Aceh", "12": "Sumatera Utara", "13": "Sumatera Barat", "14": "Riau",
    "15": "Jambi", "16": "Sumatera Selatan", "17": "Bengkulu", "18": "Lampung",
    "19": "Kepulauan Bangka Belitung", "21": "Kepulauan Riau", "31": "DKI Jakarta",
    "32": "Jawa Barat", "33": "Jawa Tengah", "34": "DI Yogyakarta", "35": "Jawa Timur",
    "36": "Banten", "51": "Bali", "52": "Nusa Tenggara Barat", "53": "Nusa Tenggara Timur",
    "61": "Kalimantan Barat", "62": "Kalimantan Tengah", "63": "Kalimantan Selatan",
    "64": "Kalimantan Timur", "65": "Kalimantan Utara", "71": "Sulawesi Utara",
    "72": "Sulawesi Tengah", "73": "Sulawesi Selatan", "74": "Sulawesi Tenggara",
    "75": "Gorontalo", "76": "Sulawesi Barat", "81": "Maluku", "82": "Maluku Utara",
    "91": "Papua", "92": "Papua Barat", "93": "Papua Selatan", "94": "Papua Tengah",
    "95": "Papua Pegunungan", "96": "Papua Barat Daya",
}
FORMATS = ("nik", "thai", "generic")
_SEPARATORS = re.compile(r"[\s\-.]")
_DIGITS = re.compile(r"\d+")
_GENERIC = re.compile(r"[A-Z0-9]{5,32}")


@dataclass(frozen=True)
class Problem:
    """Why a number was refused: the format tried and what is wrong with it."""

    format: str
    problem: str

    def as_dict(self) -> dict[str, str]:
        return {"format": self.format, "problem": self.problem}


def normalize(number: str) -> str:
    """Drop the spaces, dashes and dots people type between groups of digits."""
    if number.isdigit():  # the usual case, once per row of a bulk import
        return number
    return _SEPARATORS.sub("", number).upper()


def check_nik(number: str, birth_date: dt.date | None = None,
              sex: str | None = None) -> str | None:
    """The problem with a NIK, or None. With birth_date/sex, they must agree with it."""
    if len(number) != 16 or not _DIGITS.fullmatch(number):
        return "a NIK has 16 digits"
    province, regency, district = number[0:2], number[2:4], number[4:6]
    if province not in PROVINCES:
        return f"province code {province} does not exist"
    if regency == "00":
        return "regency code 00 does not exist"
    if district == "00":
        return "district code 00 does not exist"
    day, month, year = int(number[6:8]), int(number[8:10]), int(number[10:12])
    female = day > 40
    if female:
        day -= 40
    if not _valid_day(day, month, year):
        return f"birth date {number[6:12]} is not a date (DDMMYY, +40 on the day for women)"
    if number[12:16] == "0000":
        return "sequence number 0000 is not issued"
    if sex is not None and sex != ("F" if female else "M"):
        return f"the NIK is a {'woman' if female else 'man'}'s but the record says sex {sex}"
    if birth_date is not None and (birth_date.day, birth_date.month,
                                   birth_date.year % 100) != (day, month, year):
        return (f"the NIK's birth date {day:02d}-{month:02d}-{year:02d} differs from "
                f"the record's {birth_date.isoformat()}")
    return None


@functools.cache  # at most 31 x 12 x 100 answers, asked once per row of an import
def _valid_day(day: int, month: int, yy: int) -> bool:
    """Whether DD-MM exists in 19YY or 20YY (00 is 1900, no leap day, or 2000, one)."""
    for century in (1900, 2000):
        try:
            dt.date(century + yy, month, day)
            return True
        except ValueError:
            continue
    return False


def thai_check_digit(first12: str) -> int:
    total = sum(int(d) * (13 - i) for i, d in enumerate(first12))
    return (11 - total % 11) % 10


def check_thai(number: str, birth_date: dt.date | None = None,
               sex: str | None = None) -> str | None:
    if len(number) != 13 or not _DIGITS.fullmatch(number):
        return "a Thai citizen number has 13 digits"
    if number[0] == "0":
        return "a Thai citizen number does not start with 0"
    expected = thai_check_digit(number[:12])
    if int(number[12]) != expected:
        return f"check digit is {number[12]}, expected {expected}"
    return None


def check_generic(number: str, birth_date: dt.date | None = None,
                  sex: str | None = None) -> str | None:
    if not _GENERIC.fullmatch(number):
        return "a national number has 5 to 32 letters and digits"
    return None


CHECKS: dict[str, Callable[[str, dt.date | None, str | None], str | None]] = {
    "nik": check_nik, "thai": check_thai, "generic": check_generic}


def validate(number: str, formats: Iterable[str], birth_date: dt.date | None = None,
             sex: str | None = None) -> tuple[str, list[Problem]]:
    """(normalized number, problems): no problems when one accepted format takes it.

    Problems name each format tried, so the refusal says exactly what is wrong.
    """
    normalized = normalize(number)
    if formats == ("nik",):  # the usual city, once per row of an import
        problem = check_nik(normalized, birth_date, sex)
        return normalized, [] if problem is None else [Problem("nik", problem)]
    problems = []
    for name in formats:
        problem = CHECKS[name](normalized, birth_date, sex)
        if problem is None:
            return normalized, []
        problems.append(Problem(name, problem))
    return normalized, problems


def unknown_formats(formats: Iterable[str]) -> list[str]:
    return [name for name in formats if name not in CHECKS]


def make_nik(region: str, birth_date: dt.date, sex: str, sequence: int) -> str:
    """A structurally valid NIK: region is the 6-digit PPRRDD code (or a longer one)."""
    day = birth_date.day + (40 if sex == "F" else 0)
    return (f"{region[:6]}{day:02d}{birth_date.month:02d}{birth_date.year % 100:02d}"
            f"{sequence:04d}")


def make_thai(first12: str) -> str:
    return first12 + str(thai_check_digit(first12))


def check_family_card(number: str) -> str | None:
    """A family card (KK) number: 16 digits, PPRRDD of the issuing office, DDMMYY, SSSS."""
    if len(number) != 16 or not _DIGITS.fullmatch(number):
        return "a family card number has 16 digits"
    if number[:2] not in PROVINCES:
        return f"province code {number[:2]} does not exist"
    if number[2:4] == "00" or number[4:6] == "00":
        return "regency and district codes are never 00"
    return None
