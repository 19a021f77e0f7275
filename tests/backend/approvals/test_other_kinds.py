"""The other kinds that need a second admin: a registry import and a programme change."""

import pytest
from sqlalchemy import func, select

from backend.approvals import service
from backend.bulk import jobs, registry_import
from backend.bulk.runner import run_job
from backend.db import database, session
from backend.errors import ApiError
from backend.reasons import Reason
from backend.registry import synth
from backend.registry.models import Citizen
from backend.testing.identity import make_staff
from tests.backend.approvals.conftest import as_principal


@pytest.fixture
def approved_import(city, tmp_path):
    """A synthetic registry file, asked for by one admin and approved by another."""
    path = tmp_path / "kota.csv"
    synth.write_file(path, 40, seed=7)
    maker, checker = make_staff(city, "admin"), make_staff(city, "admin")
    with database().transaction() as tx, path.open("rb") as handle:
        row = registry_import.request_import(tx, handle, path.name, as_principal(maker))
    with database().transaction() as tx:
        service.approve(tx, row.id, as_principal(checker))
    return row, as_principal(maker)


def _citizens():
    with database().engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Citizen)).scalar_one()


def _carry_out(row, who):
    with database().transaction() as tx:
        _, done = service.carry_out(tx, row.id, who, send=False)
    return done.job_id


def test_an_approved_registry_file_is_imported_as_a_job(city, approved_import):
    row, maker = approved_import
    job_id = _carry_out(row, maker)
    assert run_job(database(), job_id, batch=200) == "finished"
    assert _citizens() == 40
    with database().transaction() as tx:
        job = jobs.get_job(tx, job_id)
        assert (job.unit, job.cursor, job.done) == ("bytes", job.total, job.total)


def test_a_registry_file_changed_after_approval_is_not_imported(city, approved_import):
    row, maker = approved_import
    stored = registry_import.stored_path(service.payload_of(row)["sha256"])
    stored.write_bytes(stored.read_bytes().replace(b"\n", b"\r\n", 1))
    with pytest.raises(ApiError) as refused, database().transaction() as tx:
        service.carry_out(tx, row.id, maker, send=False)
    assert refused.value.reason == Reason.APPROVAL_MISMATCH
    assert _citizens() == 0


def test_bad_rows_of_an_approved_file_are_downloadable_and_nothing_is_imported(city, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("national_number,full_name,birth_date,sex,region_code\n"
                    "123,Ani,1990-01-01,F,3171010001\n")
    maker, checker = make_staff(city, "admin"), make_staff(city, "admin")
    with database().transaction() as tx, path.open("rb") as handle:
        row = registry_import.request_import(tx, handle, path.name, as_principal(maker))
    with database().transaction() as tx:
        service.approve(tx, row.id, as_principal(checker))
    job_id = _carry_out(row, as_principal(maker))
    assert run_job(database(), job_id, batch=200) == "failed"
    with database().transaction() as tx:
        lines = jobs.failures_csv(tx, job_id).splitlines()
    assert lines[1].startswith("2,national_number,import_invalid,")
    assert _citizens() == 0


def test_a_programme_amount_changes_only_once_a_second_admin_approved_it(app, admins):
    from backend.programmes import settings

    before = _value(settings.describe("food", session()), "monthly_amount")
    row = service.request_approval(session(), "programme.change", {
        "key": "food", "enabled": None, "parameters": {"monthly_amount": "250000"}},
        as_principal(admins[0]))
    assert row.summary == "Change programme food: monthly_amount = 250000"
    assert _value(settings.describe("food", session()), "monthly_amount") == before
    service.approve(session(), row.id, as_principal(admins[1]))
    service.carry_out(session(), row.id, as_principal(admins[0]))
    assert _value(settings.describe("food", session()), "monthly_amount") == "250000"


def test_a_programme_change_the_programme_refuses_is_not_asked_for(admins):
    with pytest.raises(ApiError) as refused:
        service.request_approval(session(), "programme.change", {
            "key": "food", "parameters": {"monthly_amount": "lots"}}, as_principal(admins[0]))
    assert refused.value.reason == Reason.VALIDATION_FAILED


def _value(view, name):
    return next(p.value for p in view.parameters if p.name == name)
