"""`satukartu reports monthly`: the report from the command line, on a real database."""

import json

import pytest
from click.testing import CliRunner

from backend.documents.cli import reports
from backend.testing.registry import make_citizen, make_household
from backend.testing.services import fund_account
from tests.backend.documents import pdftools
from tests.backend.documents.test_reports import this_month


@pytest.fixture
def city(committing_app, fresh_pg_url, instance_dir, monkeypatch):
    """A committed month on a fresh PostgreSQL database, and the CLI's environment."""
    head = make_citizen(region_code="3273010005")
    family = make_household(head=head, welfare_decile=1)
    fund_account("food", "groceries", family, 150_000)
    monkeypatch.setenv("SATUKARTU_DATABASE_URL", fresh_pg_url)
    monkeypatch.setenv("SATUKARTU_INSTANCE_DIR", str(instance_dir))
    return this_month()


def test_monthly_writes_the_report_pdf(city, tmp_path):
    out = tmp_path / "report.pdf"
    result = CliRunner().invoke(reports, ["monthly", "--month", city, "--out", str(out)])
    assert result.exit_code == 0, result.output
    words = pdftools.text(out.read_bytes())
    assert "Rp 150.000" in words and "32.73.01" in words


def test_monthly_prints_the_figures_as_json(city):
    result = CliRunner().invoke(reports, ["monthly", "--month", city, "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["programmes"]["food"]["regions"]["327301"]["granted"] == 150_000


def test_a_malformed_month_exits_non_zero():
    result = CliRunner().invoke(reports, ["monthly", "--month", "03-2026", "--json"])
    assert result.exit_code != 0
    assert "YYYY-MM" in result.output
