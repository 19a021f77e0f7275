"""`satukartu ledger allocate | balance | check` on a database of their own."""

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from backend import migrations
from backend.app import create_app
from backend.cli import main
from backend.testing.registry import make_citizen, make_household


@pytest.fixture
def city(tmp_path, monkeypatch):
    """An SQLite city of three households (two poor) and the environment the CLI reads."""
    url = f"sqlite:///{tmp_path / 'city.db'}"
    migrations.upgrade(url)
    settings = {"DATABASE_URL": url, "INSTANCE_DIR": str(tmp_path / "instance"),
                "SECRET_KEY": "cli-test-secret-key-0123456789"}
    for name, value in settings.items():
        monkeypatch.setenv(f"SATUKARTU_{name}", value)
    app = create_app(**settings)
    with app.app_context():
        homes = [make_household(head=make_citizen(), welfare_decile=d) for d in (1, 3, 8)]
        ids = [h.id for h in homes]
    app.extensions["satukartu.db"].engine.dispose()
    return url, ids


def run(*args):
    return CliRunner().invoke(main, ["ledger", *args], catch_exceptions=False)


def test_allocate_grants_once_and_says_so(city):
    first = run("allocate", "--programme", "food", "--period", "2026-05")
    again = run("allocate", "--programme", "food", "--period", "2026-05")
    assert first.exit_code == 0 and "2 grants, 400000" in first.output
    assert again.exit_code == 0 and "0 grants" in again.output


def test_allocate_split_by_district_grants_what_the_whole_run_would(city):
    split = run("allocate", "--programme", "food", "--period", "2026-05", "--split")
    whole = run("allocate", "--programme", "food", "--period", "2026-05")
    assert split.exit_code == 0 and "2 grants, 400000 in" in split.output
    assert "district parts" in split.output
    assert whole.exit_code == 0 and "0 grants" in whole.output


def test_balance_shows_the_grant(city):
    run("allocate", "--programme", "food", "--period", "2026-05")
    shown = run("balance", "--programme", "food", "--household", str(city[1][0]), "--json")
    assert json.loads(shown.output)["balance"] == 200_000


def test_a_bad_period_is_a_usage_error(city):
    answer = run("allocate", "--programme", "food", "--period", "May")
    assert answer.exit_code == 2 and "--period" in answer.output


def test_check_passes_on_an_intact_ledger(city):
    run("allocate", "--programme", "food", "--period", "2026-05")
    answer = run("check")
    assert answer.exit_code == 0 and answer.output.strip().endswith("intact")


def test_check_names_a_balance_edited_behind_the_journal(city, engine_for):
    run("allocate", "--programme", "food", "--period", "2026-05")
    with engine_for(city[0]).begin() as db:
        db.execute(text("UPDATE ledger_accounts SET balance = balance + 1 "
                        "WHERE owner_type = 'household'"))
    answer = run("check", "--json")
    found = json.loads(answer.output)
    assert answer.exit_code == 1 and not found["intact"]
    assert len(found["findings"]["balances_off_journal"]) == 2
