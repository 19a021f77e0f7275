"""`satukartu registry duplicates list|decide`: the clerks' queue at a console, audited as
the API's."""

import datetime as dt
import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from backend.app import create_app
from backend.audit.models import AuditRecord
from backend.audit.sequencer import settle
from backend.cli import main
from backend.db import database, session
from backend.registry.dedup import review
from backend.registry.dedup.models import DuplicateCandidate
from backend.registry.models import Citizen
from backend.testing.registry import make_citizen
from tests.backend.registry.test_dedup_queue import _look_alike
from tests.backend.registry.test_import import _city

PURPOSE = "review possible duplicates"
BORN = dt.date(1984, 3, 21)


@pytest.fixture
def hub(fresh_pg_url, instance_dir):
    app = create_app(DATABASE_URL=fresh_pg_url, INSTANCE_DIR=str(instance_dir),
                     SECRET_KEY="cli-test-key")
    with app.app_context():
        yield app
    app.extensions["satukartu.db"].engine.dispose()


@pytest.fixture
def env(fresh_pg_url, instance_dir):
    return {"SATUKARTU_DATABASE_URL": fresh_pg_url, "SATUKARTU_INSTANCE_DIR": str(instance_dir),
            "SATUKARTU_SECRET_KEY": "cli-test-key"}


@pytest.fixture
def run(hub, env):
    return lambda *args: CliRunner().invoke(main, ["registry", "duplicates", *args], env=env)


@pytest.fixture
def pair(hub):
    """A look-alike registered after the first, flagged by the registration's check."""
    first = make_citizen(full_name="Budi Hartono Siregar", sex="M", birth_date=BORN)
    second = make_citizen(full_name="Siregar Budi Hartono", sex="M", birth_date=BORN)
    [row] = review.check_citizen(session(), session().get(Citizen, second.id))
    session().commit()
    return first, second, row.id


def _audit(action, citizen_id):
    session().rollback()  # see what the command committed
    settle(database().engine)
    return list(session().scalars(select(AuditRecord).where(
        AuditRecord.action == action, AuditRecord.citizen_id == citizen_id)))


def test_list_prints_the_open_pair_and_records_both_reads(run, pair):
    first, second, row_id = pair
    answer = run("list", "--purpose", PURPOSE)
    assert answer.exit_code == 0, answer.output
    [line] = answer.output.splitlines()
    fields = line.split("\t")
    assert fields[0] == str(row_id) and "Siregar Budi Hartono" in fields
    assert "Budi Hartono Siregar" in fields
    for person in (first, second):
        [read] = _audit("citizen.data.read", person.id)
        assert read.purpose == PURPOSE


def test_list_as_json_is_the_api_page(run, pair):
    _first, second, row_id = pair
    answer = run("list", "--purpose", PURPOSE, "--json")
    page = json.loads(answer.output)
    assert page["items"][0]["id"] == row_id and page["items"][0]["new"]["id"] == second.id


def test_list_needs_a_purpose(run, pair):
    assert run("list").exit_code == 2


def test_list_exits_1_when_no_pair_is_open(run, hub):
    answer = run("list", "--purpose", PURPOSE)
    assert answer.exit_code == 1 and "no pair is waiting" in answer.output


def test_decide_same_person_marks_the_duplicate_and_is_audited(run, pair):
    first, second, row_id = pair
    answer = run("decide", str(row_id), "same_person", "--note", "same mother's name")
    assert answer.exit_code == 0, answer.output
    [decided] = _audit("registry.duplicate.decide", second.id)
    assert decided.actor.startswith("console:")
    assert review.duplicate_of(session(), second.id) == first.id


def test_a_pair_decided_twice_is_refused_with_its_reason(run, pair):
    _first, _second, row_id = pair
    run("decide", str(row_id), "different_people")
    again = run("decide", str(row_id), "same_person")
    assert again.exit_code == 1 and "duplicate_already_decided" in again.output
    session().rollback()
    assert session().get(DuplicateCandidate, row_id).status == "different_people"


def test_an_unknown_decision_is_refused_before_anything(run, pair):
    assert run("decide", str(pair[2]), "merge").exit_code == 2


def test_a_file_imported_at_the_console_puts_its_look_alike_in_the_queue(run, env, tmp_path):
    path = _city(tmp_path, edit=_look_alike)
    imported = CliRunner().invoke(main, ["registry", "import", "--no-progress", str(path)],
                                  env=env)
    assert imported.exit_code == 0, imported.output
    assert "that may be one person are in the clerks' review queue" in imported.output
    listed = run("list", "--purpose", PURPOSE, "--json")
    assert any(item["source"] == "import" and item["status"] == "open"
               for item in json.loads(listed.output)["items"])
