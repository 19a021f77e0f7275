"""`satukartu programme list|show|set` on a real database."""

import json

import pytest
from click.testing import CliRunner

from backend import migrations
from backend.app import create_app
from backend.auth.principal import Principal
from backend.cli import main

RATNA = Principal(kind="staff", subject="ratna", role="admin")
BUDI = Principal(kind="staff", subject="budi", role="admin")
RAISE = {"key": "food", "enabled": None, "parameters": {"monthly_amount": "250000"}}


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'cli.db'}"
        migrations.upgrade(url)
        return url
    return request.getfixturevalue("fresh_pg_url")


@pytest.fixture
def run(database_url, instance_dir):
    env = {"SATUKARTU_DATABASE_URL": database_url, "SATUKARTU_INSTANCE_DIR": str(instance_dir),
           "SATUKARTU_SECRET_KEY": "cli-test-secret", "SATUKARTU_LOG_LEVEL": "WARNING"}
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)
    return invoke


@pytest.fixture
def approved(database_url, instance_dir):
    """`approved(payload)` -> the id of a request Ratna asked for and Budi approved."""
    from backend.approvals import service
    from backend.db import database

    hub = create_app(DATABASE_URL=database_url, INSTANCE_DIR=str(instance_dir),
                     SECRET_KEY="cli-test-secret")

    def make(payload):
        with hub.app_context(), database().transaction() as tx:
            asked = service.request_approval(tx, "programme.change", payload, RATNA)
            service.approve(tx, asked.id, BUDI)
            return asked.id
    yield make
    hub.extensions["satukartu.db"].engine.dispose()


def test_disable_from_the_console_then_show_it(run):
    done = run("programme", "set", "transport", "--disable")
    assert done.exit_code == 0, done.output
    shown = json.loads(run("programme", "show", "transport", "--json").output)
    assert (shown["enabled"], shown["enabled_source"], shown["updated_by"]) == (
        False, "database", f"staff:{shown['updated_by'].split(':', 1)[1]}")
    assert shown["updated_by"].startswith("staff:cli:")


def test_the_list_names_each_programme_and_whether_it_runs(run):
    run("programme", "set", "transport", "--disable")
    lines = run("programme", "list").output.splitlines()
    assert any(line.startswith("transport") and "disabled by database" in line
               for line in lines)
    assert any(line.startswith("food") and "enabled  by config" in line for line in lines)


def test_an_amount_change_without_approval_is_refused_with_the_apis_reason(run):
    done = run("programme", "set", "food", "--param", "monthly_amount=250000")
    assert done.exit_code == 1
    assert "refused (approval_required)" in done.output
    assert '"kind": "programme.change"' in done.output
    shown = json.loads(run("programme", "show", "food", "--json").output)
    assert shown["version"] == 0


def test_a_malformed_assignment_is_a_usage_error(run):
    done = run("programme", "set", "food", "--param", "monthly_amount")
    assert done.exit_code == 2 and "NAME=VALUE" in done.output


def test_an_approved_amount_change_is_carried_out_from_the_console(run, approved):
    approval = approved(RAISE)
    done = run("programme", "set", "food", "--param", "monthly_amount=250000",
               "--approval", str(approval), "--json")
    assert done.exit_code == 0, done.output
    amount = next(p for p in json.loads(done.output)["parameters"]
                  if p["name"] == "monthly_amount")
    assert (amount["value"], amount["source"]) == ("250000", "database")


def test_a_change_other_than_the_approved_one_is_refused(run, approved):
    approval = approved(RAISE)
    done = run("programme", "set", "food", "--param", "monthly_amount=900000",
               "--approval", str(approval))
    assert done.exit_code == 1 and "refused (approval_mismatch)" in done.output
    shown = json.loads(run("programme", "show", "food", "--json").output)
    assert shown["version"] == 0
