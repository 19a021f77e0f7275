"""How values are written on the city's papers: money, dates, regions, masked names.

One place, so a receipt, a letter and a report print the same amount the same way,
and a test can compute the text it expects to read back from a PDF.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

MONTHS_ID = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
             "September", "Oktober", "November", "Desember")
RELATIONSHIPS_ID = {"head": "Kepala Keluarga", "spouse": "Istri/Suami", "child": "Anak",
                    "parent": "Orang Tua", "other": "Famili Lain"}
SEXES_ID = {"F": "Perempuan", "M": "Laki-laki"}


def money(amount: int, symbol: str = "Rp") -> str:
    """An integer amount in the smallest unit, grouped the Indonesian way: Rp 1.250.000."""
    sign = "-" if amount < 0 else ""
    return f"{sign}{symbol} {abs(amount):,}".replace(",", ".")


def day(value: date | str) -> str:
    """A date in words: 17 Mei 1990."""
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return f"{value.day} {MONTHS_ID[value.month - 1]} {value.year}"


def moment(value: datetime | str, zone: str) -> str:
    """A time in the city's zone, with its abbreviation: 15 Maret 2026 14:05 WIB."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    local = value.astimezone(ZoneInfo(zone))
    return f"{day(local.date())} {local:%H:%M} {local.tzname()}"


def month_title(month: str) -> str:
    """`2026-03` -> Maret 2026."""
    year, number = month.split("-")
    return f"{MONTHS_ID[int(number) - 1]} {year}"


def region(code: str) -> str:
    """A 10-digit region code as officials write it: 32.73.01.1001 (province to village)."""
    parts = (code[:2], code[2:4], code[4:6], code[6:])
    return ".".join(p for p in parts if p)


def mask_name(full_name: str) -> str:
    """First letter of each word, the rest hidden at a fixed width: Siti Rahayu -> S*** R***.

    A fixed width so the mask does not leak the name's length.
    """
    return " ".join(word[0] + "***" for word in full_name.split() if word)


def percent(part: int, whole: int) -> str:
    """A share with one decimal, Indonesian decimal comma: 62,5 %; a dash when undefined."""
    if whole <= 0:
        return "–"
    tenths = round(part * 1000 / whole)
    return f"{tenths // 10},{tenths % 10} %"
