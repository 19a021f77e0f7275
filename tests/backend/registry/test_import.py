"""Bulk import: every row checked, every problem reported by line, all or nothing."""

import datetime as dt
import hashlib
import io
import json

import pytest
from sqlalchemy import func, select, text

from backend import migrations
from backend.db import make_engine
from backend.registry import importer, synth
from backend.registry.history import Actor
from backend.registry.models import (
    Citizen,
    HealthAssignment,
    Household,
    HouseholdMember,
    RegistryChange,
    SchoolEnrolment,
)

DAY = dt.date(2026, 11, 26)


def _city(tmp_path, citizens=300, seed=3, edit=None):
    out = io.StringIO()
    synth.write_csv(out, citizens, seed=seed, today=DAY)
    lines = out.getvalue().splitlines()
    if edit:
        edit(lines)
    path = tmp_path / "city.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _count(engine, model):
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(model))


@pytest.fixture
def pg_engine(committing_app):
    return committing_app.extensions["satukartu.db"].engine


@pytest.fixture
def sqlite_engine(tmp_path):
    url = f"sqlite:///{tmp_path / 'import.db'}"
    migrations.upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture(params=["postgresql", "sqlite"])
def engine(request):
    return request.getfixturevalue(f"{'pg' if request.param == 'postgresql' else 'sqlite'}"
                                   "_engine")


def test_a_city_imports_whole(engine, tmp_path):
    report = importer.import_csv(engine, _city(tmp_path), formats=["nik"])
    assert report.citizens == 300 == _count(engine, Citizen)
    assert report.households == _count(engine, Household) > 50
    assert _count(engine, HouseholdMember) == 300
    assert report.enrolments == _count(engine, SchoolEnrolment) > 0
    assert report.health == _count(engine, HealthAssignment) > 0


def test_every_head_is_a_member_of_their_household(engine, tmp_path):
    importer.import_csv(engine, _city(tmp_path), formats=["nik"])
    with engine.connect() as conn:
        heads = conn.execute(select(HouseholdMember.relationship).join(
            Household, (Household.id == HouseholdMember.household_id)
            & (Household.head_citizen_id == HouseholdMember.citizen_id))).scalars().all()
    assert set(heads) == {"head"} and len(heads) == _count(engine, Household)


def test_the_import_is_one_audit_record_naming_the_file(engine, tmp_path):
    path = _city(tmp_path)
    importer.import_csv(engine, path, formats=["nik"], actor=Actor("system", "cli:ops"))
    with engine.connect() as conn:
        records = conn.execute(text("SELECT action, details FROM audit_records")).all()
    assert [action for action, _ in records] == ["registry.import"]
    details = json.loads(records[0][1])
    assert details["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (details["by"], details["citizens"]) == ("cli:ops", 300)


def _break_rows(lines):
    fields = lines[3].split(",")
    fields[2] = "1990-02-30"  # birth_date of line 4
    lines[3] = ",".join(fields)
    fields = lines[6].split(",")
    fields[0] = "9978080512670001"  # national_number of line 7: no province 99
    lines[6] = ",".join(fields)


def test_broken_rows_are_reported_by_line_and_nothing_is_written(engine, tmp_path):
    with pytest.raises(importer.ImportFailed) as failed:
        importer.import_csv(engine, _city(tmp_path, edit=_break_rows), formats=["nik"])
    errors = failed.value.report.errors
    assert [(e.line, e.column) for e in errors] == [(4, "birth_date"), (7, "national_number")]
    assert "province code 99" in errors[1].problem
    assert _count(engine, Citizen) == 0
    assert _count(engine, Household) == 0
    assert _count(engine, RegistryChange) == 0


def test_a_number_twice_in_the_file_names_both_lines(engine, tmp_path):
    def duplicate(lines):
        lines[9] = lines[2]
    with pytest.raises(importer.ImportFailed) as failed:
        importer.import_csv(engine, _city(tmp_path, edit=duplicate), formats=["nik"])
    problems = {(e.line, e.column): e.problem for e in failed.value.report.errors}
    assert problems[(10, "national_number")] == "also on line 3"


def test_a_number_already_registered_is_reported(engine, tmp_path):
    path = _city(tmp_path)
    importer.import_csv(engine, path, formats=["nik"])
    with pytest.raises(importer.ImportFailed) as failed:
        importer.import_csv(engine, path, formats=["nik"])
    report = failed.value.report
    assert report.errors[0].line == 2 and "already registered" in report.errors[0].problem
    assert _count(engine, Citizen) == 300


def test_a_household_without_its_one_head_is_reported_at_its_first_line(engine, tmp_path):
    def demote_head(lines):
        lines[1] = lines[1].replace(",head,", ",other,")
    with pytest.raises(importer.ImportFailed) as failed:
        importer.import_csv(engine, _city(tmp_path, edit=demote_head), formats=["nik"])
    error = failed.value.report.errors[0]
    assert (error.line, error.column) == (2, "relationship")
    assert "has 0 heads" in error.problem


def test_an_unknown_column_stops_at_the_header(engine, tmp_path):
    def rename(lines):
        lines[0] = lines[0].replace("address", "adress")
    with pytest.raises(importer.ImportFailed) as failed:
        importer.import_csv(engine, _city(tmp_path, edit=rename), formats=["nik"])
    assert [(e.line, e.column, e.problem) for e in failed.value.report.errors] == [
        (1, "adress", "unknown column")]


def test_a_row_with_too_few_fields_is_reported(engine, tmp_path):
    def cut(lines):
        lines[5] = lines[5].rsplit(",", 3)[0]
    with pytest.raises(importer.ImportFailed) as failed:
        importer.import_csv(engine, _city(tmp_path, edit=cut), formats=["nik"])
    assert failed.value.report.errors[0].line == 6
    assert _count(engine, Citizen) == 0


def test_a_large_import_rebuilds_indexes_and_keys_it_set_aside(pg_engine, tmp_path):
    catalog = text("""SELECT conname FROM pg_constraint WHERE contype = 'f'
                      UNION ALL SELECT indexname FROM pg_indexes WHERE schemaname = 'public'
                      ORDER BY 1""")
    with pg_engine.connect() as conn:
        before = conn.scalars(catalog).all()
    report = importer.import_csv(pg_engine, _city(tmp_path, citizens=1500), formats=["nik"])
    with pg_engine.connect() as conn:
        after = conn.scalars(catalog).all()
    assert report.citizens == 1500
    assert "fk_households_head_is_member" in after and "ix_citizens_name_trgm" in after
    assert after == before
