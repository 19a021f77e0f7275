"""A module the hub has never heard of, installed only here, works like the city's own."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from backend.testing.services import ledger_snapshot

PACKAGE = Path(__file__).parent / "thirdparty_pkg"


@pytest.fixture(scope="session")
def library_dist(tmp_path_factory):
    """The package built and installed by pip into a folder of its own (a real dist-info
    with its entry_points.txt)."""
    source = tmp_path_factory.mktemp("src") / "library"
    shutil.copytree(PACKAGE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-index", "--no-build-isolation", "--target", str(target),
                    str(source)], check=True)
    return target


@pytest.fixture
def library_on_path(library_dist, monkeypatch):
    monkeypatch.syspath_prepend(str(library_dist))
    monkeypatch.setenv("SATUKARTU_SERVICE_LIBRARY_MAX_PAGES", "20")


@pytest.fixture
def app(library_on_path, app):
    """The hub, started with the library package installed."""
    return app


def test_the_hub_lists_the_installed_module(citizen, card_session, client):
    token = card_session(citizen(), "tap", "kiosk")
    listed = client.get("/api/v1/services", headers={"Authorization": f"Bearer {token}"})
    library = next(p for p in listed.json["programmes"] if p["key"] == "library")
    assert library["title"] == "Kuota Cetak Perpustakaan" and library["eligible"]


def test_its_action_runs_through_the_ledger(citizen, fund, card_session, call_service):
    reader = citizen()
    fund("library", "pages", reader, 30)
    answer = call_service(card_session(reader, "pin", "kiosk"), "library", "print",
                          {"pages": 12})
    assert answer.status_code == 200, answer.json
    assert answer.json["pages_left"] == 18


def test_the_citys_parameter_reaches_the_module(citizen, fund, card_session, call_service):
    reader = citizen()
    fund("library", "pages", reader, 30)
    before = ledger_snapshot()
    answer = call_service(card_session(reader, "pin", "kiosk"), "library", "print",
                          {"pages": 21})
    assert answer.status_code == 422
    assert answer.json["error"]["details"]["cap"] == 20
    assert ledger_snapshot() == before


def test_the_hub_enforces_its_declared_assurance(citizen, card_session, call_service):
    answer = call_service(card_session(citizen(), "tap", "kiosk"), "library", "print",
                          {"pages": 1})
    assert answer.status_code == 403
    assert answer.json["error"]["reason"] == "assurance_too_low"


def test_it_refuses_with_a_reason_of_its_own(citizen, fund, card_session, call_service,
                                             client, staff_token):
    closed = client.patch("/api/v1/programmes/library", json={"parameters": {"closed": "true"}},
                          headers={"Authorization": f"Bearer {staff_token()}"})
    assert closed.status_code == 200, closed.json
    reader = citizen()
    fund("library", "pages", reader, 30)
    before = ledger_snapshot()
    answer = call_service(card_session(reader, "pin", "kiosk"), "library", "print",
                          {"pages": 2})
    assert answer.status_code == 409
    assert answer.json["error"]["reason"] == "library_closed"
    assert ledger_snapshot() == before
