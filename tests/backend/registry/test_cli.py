"""`satukartu registry import` and `registry synth` as an operator runs them."""

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from backend.cli import main
from backend.db import make_engine
from backend.registry.models import Citizen


@pytest.fixture
def run(fresh_pg_url, instance_dir):
    env = {"SATUKARTU_DATABASE_URL": fresh_pg_url, "SATUKARTU_INSTANCE_DIR": str(instance_dir),
           "SATUKARTU_SECRET_KEY": "cli-test-key"}
    return lambda *args: CliRunner().invoke(main, list(args), env=env)


@pytest.fixture
def citizens_in_db(fresh_pg_url):
    engine = make_engine(fresh_pg_url)

    def count():
        with engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(Citizen))

    yield count
    engine.dispose()


def test_synth_writes_a_csv_that_import_takes_whole(run, tmp_path, citizens_in_db):
    path = tmp_path / "city.csv"
    made = run("registry", "synth", "--citizens", "120", "--seed", "4", "--out", str(path),
               "--as-of", "2026-11-26")
    assert made.exit_code == 0, made.output
    imported = run("registry", "import", str(path))
    assert imported.exit_code == 0, imported.output
    assert "imported 120 citizens" in imported.output
    assert citizens_in_db() == 120


def test_synth_without_out_imports_into_the_database(run, citizens_in_db):
    answer = run("registry", "synth", "--citizens", "50", "--no-progress")
    assert answer.exit_code == 0, answer.output
    assert citizens_in_db() == 50


def test_a_broken_row_exits_non_zero_naming_its_line(run, tmp_path, citizens_in_db):
    path = tmp_path / "city.csv"
    run("registry", "synth", "--citizens", "20", "--out", str(path))
    lines = path.read_text().splitlines()
    lines[5] = lines[5].replace(",F,", ",X,").replace(",M,", ",X,")
    path.write_text("\n".join(lines) + "\n")
    answer = run("registry", "import", str(path))
    assert answer.exit_code == 1
    assert "line 6, sex: F or M" in answer.output
    assert "nothing was imported" in answer.output
    assert citizens_in_db() == 0


def test_import_help_documents_the_csv_format():
    answer = CliRunner().invoke(main, ["registry", "import", "--help"])
    assert "family_card_number" in answer.output and "welfare_decile" in answer.output


def test_the_progress_bar_runs_to_the_end(run, tmp_path, citizens_in_db):
    path = tmp_path / "city.csv"
    run("registry", "synth", "--citizens", "30", "--out", str(path))
    answer = run("registry", "import", str(path), "--progress")
    assert answer.exit_code == 0, answer.output
    assert "importing city.csv" in answer.output
    assert citizens_in_db() == 30
