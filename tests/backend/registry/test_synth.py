"""The synthetic city: deterministic, valid by the import's own checks, realistic shape."""

import csv
import datetime as dt
import io
from collections import Counter, defaultdict

from backend.registry import synth
from backend.registry.csvformat import RowParser, check_header

DAY = dt.date(2026, 11, 26)


def _rows(citizens, seed=5):
    out = io.StringIO()
    synth.write_csv(out, citizens, seed=seed, today=DAY)
    return out.getvalue()


def test_the_same_seed_gives_the_same_city():
    assert _rows(300, seed=9) == _rows(300, seed=9)
    assert _rows(300, seed=9) != _rows(300, seed=10)


def test_it_writes_exactly_the_number_of_people_asked():
    assert len(_rows(257).splitlines()) == 258


def test_every_row_passes_the_import_checks():
    reader = csv.reader(io.StringIO(_rows(2000)))
    positions, errors = check_header(next(reader))
    parser = RowParser(positions, ["nik"], today=DAY)
    assert errors == []
    numbers = [parser.parse(line, row)[1] for line, row in enumerate(reader, start=2)]
    assert len(set(numbers)) == len(numbers)


def test_each_household_has_one_head_and_one_decile():
    rows = list(csv.DictReader(io.StringIO(_rows(2000))))
    heads, deciles = Counter(), defaultdict(set)
    for row in rows:
        heads[row["family_card_number"]] += row["relationship"] == "head"
        deciles[row["family_card_number"]].add(row["welfare_decile"])
    assert set(heads.values()) == {1}
    assert all(len(d) == 1 for d in deciles.values())
    assert 2.5 < len(rows) / len(heads) < 5  # people per household


def test_school_age_children_are_mostly_enrolled_and_adults_not():
    rows = list(csv.DictReader(io.StringIO(_rows(3000))))
    def age(row):
        return (DAY - dt.date.fromisoformat(row["birth_date"])).days // 365
    pupils = [r for r in rows if 8 <= age(r) <= 17]
    adults = [r for r in rows if age(r) >= 25]
    assert sum(bool(r["school_code"]) for r in pupils) / len(pupils) > 0.9
    assert not any(r["school_code"] for r in adults)
    assert {r["academic_year"] for r in pupils if r["academic_year"]} == {"2026/2027"}


def test_low_deciles_get_premium_assisted_class_three():
    rows = list(csv.DictReader(io.StringIO(_rows(2000))))
    insured_poor = [r for r in rows if r["jkn_class"] and int(r["welfare_decile"]) <= 4]
    assert insured_poor
    assert {(r["jkn_class"], r["premium_assisted"]) for r in insured_poor} == {("3", "true")}
