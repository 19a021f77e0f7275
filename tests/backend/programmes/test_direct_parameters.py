"""A module may declare a parameter that decides neither who benefits nor how much;
an admin changes that one directly, without a second admin."""

import pytest

from backend.programmes import settings
from backend.reasons import Reason
from backend.services import Param, ServiceModule
from backend.services.catalogue import modules
from tests.backend.programmes.conftest import bearer


class Notices(ServiceModule):
    key = "notices"
    title = {"en": "City notices"}
    params = {
        "page_size": Param(10, "Notices a kiosk shows per page.", needs_approval=False),
        "monthly_amount": Param(1_000, "Printing credit per month."),
    }


NOTICES = Notices()


@pytest.fixture
def notices_installed(tmp_path, monkeypatch):
    """The module installed as pip would leave it: a dist-info with its entry point."""
    info = tmp_path / "notices-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: notices\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        f"[satukartu.services]\nnotices = {__name__}:NOTICES\n")
    monkeypatch.syspath_prepend(str(tmp_path))


@pytest.fixture
def app(notices_installed, app):
    return app


def change(client, token, **body):
    return client.patch("/api/v1/programmes/notices", json=body, headers=bearer(token))


def test_a_parameter_declared_without_approval_needs_none(app):
    assert not settings.needs_approval("notices", None, {"page_size": "20"})
    assert settings.needs_approval("notices", None, {"page_size": "20",
                                                     "monthly_amount": "2000"})


def test_an_admin_changes_it_directly(client, admin_token):
    answer = change(client, admin_token, parameters={"page_size": 20})
    assert answer.status_code == 200, answer.json
    page_size = next(p for p in answer.json["parameters"] if p["name"] == "page_size")
    assert (page_size["value"], page_size["source"], page_size["needs_approval"]) == (
        "20", "database", False)
    assert modules()["notices"].config["page_size"] == 20


def test_with_an_amount_beside_it_the_whole_change_needs_approval(client, admin_token):
    answer = change(client, admin_token, parameters={"page_size": 20,
                                                     "monthly_amount": 2_000})
    assert answer.status_code == 403
    assert answer.json["error"]["reason"] == Reason.APPROVAL_REQUIRED
    assert modules()["notices"].config["page_size"] == 10
