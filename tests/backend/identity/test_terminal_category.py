"""An agent terminal is registered with its shop's category, which purse rules name."""

import json

import pytest

from backend.reasons import Reason
from backend.testing.identity import bearer


def test_the_console_registers_an_agent_with_its_category_and_lists_it(cli_hub):
    run, _ = cli_hub
    created = json.loads(run("terminal", "add", "--kind", "agent", "--name", "e-Warong Mawar",
                             "--category", "e-warong", "--json").output)
    assert created["category"] == "e-warong"
    listed = json.loads(run("terminal", "list", "--json").output)
    assert [(t["terminal_id"], t["category"]) for t in listed] == \
        [(created["terminal_id"], "e-warong")]
    assert "e-warong" in run("terminal", "list").output


def test_the_api_registers_an_agent_with_its_category_and_lists_it(client, staff_token):
    admin = staff_token("admin")
    created = client.post("/api/v1/terminals", headers=bearer(admin),
                          json={"kind": "agent", "name": "Koperasi Desa",
                                "category": "koperasi"})
    assert created.status_code == 201, created.json
    assert created.json["category"] == "koperasi"
    listed = client.get("/api/v1/terminals?kind=agent", headers=bearer(admin)).json["items"]
    assert {"terminal_id": created.json["terminal_id"], "category": "koperasi"}.items() <= \
        next(t for t in listed if t["terminal_id"] == created.json["terminal_id"]).items()


def test_a_terminal_registered_without_a_category_has_none(client, staff_token):
    created = client.post("/api/v1/terminals", headers=bearer(staff_token("admin")),
                          json={"kind": "agent", "name": "Toko Lama"})
    assert created.json["category"] is None


@pytest.mark.parametrize("body", [
    {"kind": "kiosk", "name": "Kiosk 1", "category": "e-warong"},  # only agents have one
    {"kind": "agent", "name": "Toko", "category": "E Warong"},
    {"kind": "agent", "name": "Toko", "category": ""},
])
def test_a_bad_category_is_refused(client, staff_token, body):
    answer = client.post("/api/v1/terminals", headers=bearer(staff_token("admin")), json=body)
    assert answer.status_code == 400
    assert answer.json["error"]["reason"] == Reason.VALIDATION_FAILED
