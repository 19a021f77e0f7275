"""`satukartu citizen find NUMBER-OR-NAME`: the API's search at a console, audited alike."""

import getpass
import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from backend.app import create_app
from backend.audit.models import AuditRecord
from backend.audit.sequencer import settle
from backend.cli import main
from backend.db import database, session
from backend.testing.registry import make_citizen

PURPOSE = "answer the citizen's letter"


@pytest.fixture
def hub(fresh_pg_url, instance_dir):
    app = create_app(DATABASE_URL=fresh_pg_url, INSTANCE_DIR=str(instance_dir),
                     SECRET_KEY="cli-test-key")
    with app.app_context():
        yield app
    app.extensions["satukartu.db"].engine.dispose()


@pytest.fixture
def run(hub, fresh_pg_url, instance_dir):
    env = {"SATUKARTU_DATABASE_URL": fresh_pg_url, "SATUKARTU_INSTANCE_DIR": str(instance_dir),
           "SATUKARTU_SECRET_KEY": "cli-test-key"}
    return lambda *args: CliRunner().invoke(main, ["citizen", "find", *args], env=env)


@pytest.fixture
def dewi(hub):
    make_citizen(full_name="Budi Santoso", sex="M")
    return make_citizen(full_name="Dewi Kartika Lestari")


def _reads(citizen_id):
    session().rollback()  # see what the command committed
    settle(database().engine)  # and chain what it queued, as the hub's readers do
    return list(session().scalars(select(AuditRecord).where(
        AuditRecord.action == "citizen.data.read", AuditRecord.citizen_id == citizen_id)))


def test_a_part_of_a_name_in_any_case_finds_the_person(run, dewi):
    answer = run("KARTIKA", "--purpose", PURPOSE)
    assert answer.exit_code == 0, answer.output
    assert answer.stdout.splitlines() == [
        f"{dewi.id}\t{dewi.national_number}\tDewi Kartika Lestari\t1990"]


def test_a_number_is_matched_exactly_whatever_separates_its_groups(run, dewi):
    number = dewi.national_number
    answer = run(f"{number[:6]} {number[6:12]}-{number[12:]}", "--purpose", PURPOSE)
    assert answer.exit_code == 0, answer.output
    assert [line.split("\t")[0] for line in answer.stdout.splitlines()] == [str(dewi.id)]
    assert run(number[:15], "--purpose", PURPOSE).exit_code == 1


def test_each_person_printed_is_a_read_audited_with_the_purpose_and_the_console_user(
        run, dewi):
    assert run("kartika", "--purpose", PURPOSE).exit_code == 0
    reads = _reads(dewi.id)
    assert [(r.purpose, r.actor) for r in reads] == [(PURPOSE, f"console:{getpass.getuser()}")]


def test_json_is_the_page_the_api_answers(run, dewi):
    answer = run("lestari", "--purpose", PURPOSE, "--json")
    page = json.loads(answer.stdout)
    assert page["has_more"] is False and (page["page"], page["per_page"]) == (1, 20)
    assert page["items"] == [{"id": dewi.id, "national_number": dewi.national_number,
                              "full_name": "Dewi Kartika Lestari", "birth_year": 1990,
                              "deceased": False}]


def test_no_one_found_exits_one_and_reads_nothing(run, dewi):
    answer = run("Wulandari", "--purpose", PURPOSE)
    assert answer.exit_code == 1
    assert answer.stdout == "" and "no one found" in answer.stderr
    assert _reads(dewi.id) == []


def test_a_search_without_a_purpose_is_a_usage_error(run, dewi):
    answer = run("kartika")
    assert answer.exit_code == 2 and "--purpose" in answer.output


def test_a_name_part_shorter_than_three_characters_is_refused(run, dewi):
    answer = run("de", "--purpose", PURPOSE)
    assert answer.exit_code == 2 and "QUERY" in answer.output
    assert _reads(dewi.id) == []
