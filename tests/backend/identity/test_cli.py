"""`satukartu staff` and `satukartu terminal` on a real database, then used through the API."""

import json

from backend.audit.sequencer import settle
from backend.db import database, session
from backend.reasons import Reason
from backend.testing.audit import list_records
from backend.testing.identity import basic, bearer

PASSWORD = "lontong-sayur-pagi-ini"




def test_first_admin_from_the_console_signs_in_through_the_api(cli_hub):
    run, client = cli_hub
    result = run("staff", "add", "ana", "--role", "admin", "--password-stdin",
                 stdin=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    login = client.post("/api/v1/auth/staff/login", json={"username": "ana",
                                                          "password": PASSWORD})
    assert login.status_code == 200
    assert login.json["role"] == "admin"


def test_generated_password_is_shown_once_and_works(cli_hub):
    run, client = cli_hub
    result = run("staff", "add", "budi", "--role", "clerk", "--json")
    shown = json.loads(result.output)
    login = client.post("/api/v1/auth/staff/login",
                        json={"username": "budi", "password": shown["password"]})
    assert login.status_code == 200
    listed = json.loads(run("staff", "list", "--json").output)
    assert [s["username"] for s in listed] == ["budi"]
    assert "password" not in listed[0]


def test_weak_password_from_stdin_is_refused_with_its_reason(cli_hub):
    run, _ = cli_hub
    result = run("staff", "add", "citra", "--role", "clerk", "--password-stdin", stdin="123\n")
    assert result.exit_code == 1
    assert Reason.PASSWORD_TOO_WEAK in result.output


def test_duplicate_staff_is_refused_and_nothing_changes(cli_hub):
    run, _ = cli_hub
    run("staff", "add", "dewi", "--role", "clerk", "--sso-only")
    result = run("staff", "add", "dewi", "--role", "admin", "--sso-only")
    assert result.exit_code == 1
    assert Reason.DUPLICATE_USERNAME in result.output
    listed = json.loads(run("staff", "list", "--json").output)
    assert [(s["username"], s["role"]) for s in listed] == [("dewi", "clerk")]


def test_registered_terminal_fetches_a_token_and_is_refused_once_disabled(cli_hub):
    run, client = cli_hub
    created = json.loads(run("terminal", "add", "--kind", "counter", "--name",
                             "Puskesmas Tebet loket 2", "--json").output)
    answer = client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"},
                         headers=basic(created["client_id"], created["client_secret"]))
    assert answer.status_code == 200
    assert answer.json["scope"] == "counter"
    assert run("terminal", "disable", created["terminal_id"]).exit_code == 0
    me = client.get("/api/v1/auth/whoami", headers=bearer(answer.json["access_token"]))
    assert me.json["error"]["reason"] == Reason.TERMINAL_DISABLED


def test_rotated_secret_replaces_the_old_one(cli_hub):
    run, client = cli_hub
    created = json.loads(run("terminal", "add", "--kind", "gate", "--name", "Halte 1",
                             "--json").output)
    rotated = json.loads(run("terminal", "rotate-secret", created["terminal_id"],
                             "--json").output)
    form = {"grant_type": "client_credentials"}
    old = client.post("/api/v1/oauth/token", data=form,
                      headers=basic(created["client_id"], created["client_secret"]))
    new = client.post("/api/v1/oauth/token", data=form,
                      headers=basic(created["client_id"], rotated["client_secret"]))
    assert (old.status_code, new.status_code) == (401, 200)


def test_unlock_lifts_the_lock_of_an_address(cli_hub):
    run, client = cli_hub
    run("staff", "add", "eka", "--role", "clerk", "--password-stdin", stdin=PASSWORD + "\n")
    for _ in range(5):
        client.post("/api/v1/auth/staff/login", json={"username": "eka", "password": "nope"})
    locked = client.post("/api/v1/auth/staff/login", json={"username": "eka",
                                                           "password": PASSWORD})
    assert locked.status_code == 429
    assert run("staff", "unlock", "eka").exit_code == 0
    again = client.post("/api/v1/auth/staff/login", json={"username": "eka",
                                                          "password": PASSWORD})
    assert again.status_code == 200


def test_console_changes_are_audited_with_the_operator(cli_hub):
    run, client = cli_hub
    run("staff", "add", "fitri", "--role", "auditor", "--sso-only")
    run("staff", "disable", "fitri")
    with client.application.app_context():
        settle(database().engine)  # chain what the commands queued, as readers do
        records = list_records(session().connection(), subject_id="fitri")
    assert [r["action"] for r in records] == ["staff.create", "staff.disable"]
    assert all(r["actor"].startswith("cli:") for r in records)
