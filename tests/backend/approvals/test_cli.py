"""`satukartu approval`, `card revoke-many` and `job` on a real database: the console acts
as a named admin, so the maker cannot approve there either."""

import json

import pytest
from click.testing import CliRunner

from backend.cards.models import Card
from backend.cli import main
from backend.db import database
from backend.testing.identity import make_staff
from tests.backend.approvals.conftest import commit_cards


@pytest.fixture
def console(city):
    env = {"SATUKARTU_DATABASE_URL": city.config["DATABASE_URL"],
           "SATUKARTU_INSTANCE_DIR": city.config["INSTANCE_DIR"],
           "SATUKARTU_SECRET_KEY": "test-secret-key-not-for-production",
           "SATUKARTU_ORIGIN": city.config["ORIGIN"], "SATUKARTU_LOG_LEVEL": "WARNING",
           "SATUKARTU_APPROVAL_REVOKE_THRESHOLD": "2"}
    runner = CliRunner()

    def run(*args):
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)
    return run


@pytest.fixture
def serial_file(city, tmp_path):
    serials = commit_cards(3)
    path = tmp_path / "stolen.txt"
    path.write_text("serial\n" + "\n".join(serials) + "\n")
    return path, serials


def _ask(console, path, maker):
    result = console("card", "revoke-many", "--file", str(path), "--reason", "keyCompromise",
                     "--as", maker)
    assert result.exit_code == 0, result.output
    assert "another admin must approve" in result.output
    listed = json.loads(console("approval", "list", "--json").output.splitlines()[0])
    return listed["id"]


def _statuses(serials):
    with database().transaction() as tx:
        return {tx.query(Card.status).filter_by(serial=s).scalar() for s in serials}


def test_the_maker_cannot_approve_their_own_request_at_the_console(city, console, serial_file):
    maker = make_staff(city, "admin").username
    request_id = _ask(console, serial_file[0], maker)
    result = console("approval", "approve", str(request_id), "--as", maker)
    assert result.exit_code == 1
    assert "refused (own_request)" in result.output
    shown = json.loads(console("approval", "show", str(request_id), "--json").output)
    assert (shown["status"], shown["needs_second_person"]) == ("pending", True)


def test_the_console_acts_only_as_an_existing_admin(city, console, serial_file):
    clerk = make_staff(city, "clerk").username
    for username, reason in ((clerk, "role_not_allowed"), ("nobody-here", "not_found")):
        result = console("card", "revoke-many", "--file", str(serial_file[0]), "--reason",
                         "keyCompromise", "--as", username)
        assert result.exit_code == 1 and f"refused ({reason})" in result.output


def test_an_approved_revocation_is_carried_out_at_the_console(city, console, serial_file):
    path, serials = serial_file
    maker, checker = make_staff(city, "admin").username, make_staff(city, "admin").username
    request_id = _ask(console, path, maker)
    approved = console("approval", "approve", str(request_id), "--as", checker,
                       "--comment", "police report checked")
    assert approved.exit_code == 0, approved.output
    done = console("card", "revoke-many", "--file", str(path), "--reason", "keyCompromise",
                   "--as", maker, "--approval", str(request_id), "--here")
    assert done.exit_code == 0, done.output
    assert "finished" in done.output
    assert _statuses(serials) == {"revoked"}


def test_another_list_than_the_approved_one_is_refused_at_the_console(
        city, console, serial_file, tmp_path):
    path, serials = serial_file
    maker, checker = make_staff(city, "admin").username, make_staff(city, "admin").username
    request_id = _ask(console, path, maker)
    console("approval", "approve", str(request_id), "--as", checker)
    other = tmp_path / "other.txt"
    other.write_text("\n".join([*serials, *commit_cards(1)]))
    result = console("card", "revoke-many", "--file", str(other), "--reason", "keyCompromise",
                     "--as", maker, "--approval", str(request_id), "--here")
    assert result.exit_code == 1 and "refused (approval_mismatch)" in result.output
    assert _statuses(serials) == {"active"}
