"""Hypothesis against the registry's CSV import: whatever the file holds, the import
either succeeds or reports bad rows with nothing written; no other exception, ever.

Files start from a valid synthetic city and are damaged the ways files get damaged:
fields replaced by arbitrary text (NUL, other control characters, quotes, line breaks,
any Unicode), fields added or dropped, lines of arbitrary bytes (not UTF-8), a BOM.
The row checks alone get more examples; whole imports run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from backend import migrations
from backend.db import make_engine
from backend.registry import importer, synth
from backend.registry.csvformat import COLUMNS, STAGED, BadRow, RowParser, check_header
from backend.registry.models import Citizen

DAY = dt.date(2026, 11, 26)
# Widths of the staging table's text columns (backend/registry/importer.py).
WIDTHS = {"national_number": 32, "full_name": 200, "name_search": 200, "sex": 1,
          "address": 300, "region_code": 10, "language": 8, "photo_ref": 200,
          "family_card_number": 32, "relationship": 8, "school_code": 32,
          "school_name": 200, "school_level": 8, "academic_year": 9, "facility_code": 32,
          "facility_name": 200}


def _city_rows(count: int = 12) -> list[list[str]]:
    out = io.StringIO()
    synth.write_csv(out, count, seed=5, today=DAY)
    return list(csv.reader(io.StringIO(out.getvalue())))


CITY = _city_rows()
HEADER, ROWS = CITY[0], CITY[1:]
any_text = st.text(max_size=60) | st.sampled_from(
    ["", " ", "\x00", "a\x00b", "\r\n", '"', '""', "\ufeff", "９９", "１", "0" * 400,
     "2026-02-30", "-1", "1e3", "NaN", "\u0663"])
damaged_row = st.tuples(st.sampled_from(ROWS), st.lists(
    st.tuples(st.integers(0, len(HEADER) + 1), any_text), max_size=4), st.integers(-2, 2)
).map(lambda spec: _damage(*spec))


def _damage(row: list[str], edits: list[tuple[int, str]], width: int) -> list[str]:
    out = list(row)
    for index, text in edits:
        if index < len(out):
            out[index] = text
    if width > 0:
        out += ["x"] * width
    elif width < 0:
        out = out[:width]
    return out


def _csv(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


files = st.tuples(
    st.lists(damaged_row | st.sampled_from(ROWS), min_size=1, max_size=8),
    st.lists(st.binary(max_size=40), max_size=2),
    st.booleans(),
).map(lambda spec: (b"\xef\xbb\xbf" if spec[2] else b"") + _csv([HEADER] + spec[0]).encode()
      + b"".join(line + b"\n" for line in spec[1]))


@settings(max_examples=800, deadline=None)
@given(header=st.lists(st.sampled_from(COLUMNS) | any_text, max_size=len(COLUMNS) + 2))
def test_any_header_gives_positions_and_problems(header):
    positions, errors = check_header(header)
    assert all(error.line == 1 for error in errors)
    assert set(positions) <= {name.strip().lstrip("\ufeff") for name in header}


@settings(max_examples=1500, deadline=None)
@given(row=damaged_row)
def test_a_row_is_staged_within_the_staging_columns_or_refused_as_a_bad_row(row):
    parser = RowParser(check_header(HEADER)[0], ("nik",), today=DAY)
    try:
        staged = parser.parse(2, row)
    except BadRow as bad:
        assert bad.column is None or bad.column in COLUMNS
        return
    for name, value in zip(STAGED, staged, strict=True):
        if isinstance(value, str):
            assert "\x00" not in value, name  # PostgreSQL text cannot hold NUL
            assert len(value) <= WIDTHS.get(name, 10), name


@pytest.fixture
def sqlite_engine(tmp_path):
    url = f"sqlite:///{tmp_path / 'fuzz.db'}"
    migrations.upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_engine(committing_app):
    return committing_app.extensions["satukartu.db"].engine


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request):
    return request.getfixturevalue(f"{'pg' if request.param == 'postgresql' else 'sqlite'}"
                                   "_engine")


def _people(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(Citizen))


@pytest.mark.slow
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(content=files)
def test_an_import_succeeds_whole_or_reports_rows_and_writes_nothing(engine, tmp_path, content):
    path: Path = tmp_path / "city.csv"
    path.write_bytes(content)
    before = _people(engine)
    try:
        report = importer.import_csv(engine, path, formats=("nik",))
    except importer.ImportFailed as failed:
        assert failed.report.errors and all(e.line >= 1 for e in failed.report.errors)
        assert _people(engine) == before
    else:
        assert _people(engine) == before + report.citizens
