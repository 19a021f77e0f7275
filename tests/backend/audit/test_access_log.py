"""A citizen, with their card and PIN, sees who read their data, when and why."""

import subprocess

from backend.testing.identity import bearer


def _read_by_clerk(client, staff_token, person, purpose):
    answer = client.get(f"/api/v1/citizens/{person.id}", query_string={"purpose": purpose},
                        headers=bearer(staff_token("clerk")))
    assert answer.status_code == 200, answer.json


def test_citizen_sees_a_clerks_read_of_their_record(client, citizen, staff_token,
                                                   card_session):
    siti = citizen(full_name="Siti Aminah")
    _read_by_clerk(client, staff_token, siti, "clinic registration")
    token = card_session(siti, assurance="pin", terminal_kind="kiosk")
    answer = client.get("/api/v1/audit/me/access-log", headers=bearer(token))
    assert answer.status_code == 200, answer.json
    assert answer.json["citizen_id"] == siti.id
    [by_clerk] = [e for e in answer.json["entries"] if e["role"] == "clerk"]
    assert by_clerk["purpose"] == "clinic registration"
    assert by_clerk["reader"] == "staff" and not by_clerk["by_you"]
    assert "full_name" in by_clerk["fields"]


def test_access_log_names_the_office_of_a_counter_terminal(client, citizen, terminal,
                                                           card_session):
    budi = citizen(full_name="Budi Santoso", sex="M")
    counter = terminal("counter", name="Kelurahan Melawai, loket 2")
    answer = client.get(f"/api/v1/citizens/{budi.id}", query_string={"purpose": "domicile"},
                        headers=bearer(counter.token))
    assert answer.status_code == 200, answer.json
    token = card_session(budi, assurance="pin", terminal_kind="counter")
    entries = client.get("/api/v1/audit/me/access-log", headers=bearer(token)).json["entries"]
    [by_counter] = [e for e in entries if e["terminal_id"] == counter.terminal_id]
    assert (by_counter["office"], by_counter["purpose"]) == ("Kelurahan Melawai, loket 2",
                                                              "domicile")


def test_reading_the_access_log_is_itself_logged(client, citizen, card_session, audit_log):
    ani = citizen(full_name="Ani Lestari")
    token = card_session(ani, assurance="pin", terminal_kind="kiosk")
    client.get("/api/v1/audit/me/access-log", headers=bearer(token))
    second = client.get("/api/v1/audit/me/access-log", headers=bearer(token)).json["entries"]
    [logged] = audit_log(action="audit.access_log.read", citizen_id=ani.id)[:1]
    assert logged["actor_kind"] == "card" and logged["role"] == "kiosk"
    assert any(e["action"] == "audit.access_log.read" and e["by_you"] for e in second)


def test_someone_elses_reads_are_not_in_my_log(client, citizen, staff_token, card_session):
    siti, budi = citizen(full_name="Siti Aminah"), citizen(full_name="Budi Santoso", sex="M")
    _read_by_clerk(client, staff_token, budi, "school enrolment")
    token = card_session(siti, assurance="pin", terminal_kind="kiosk")
    entries = client.get("/api/v1/audit/me/access-log", headers=bearer(token)).json["entries"]
    assert all(e["purpose"] != "school enrolment" for e in entries)


def test_a_tap_without_pin_may_not_see_the_access_log(client, citizen, card_session):
    token = card_session(citizen(), assurance="tap", terminal_kind="kiosk")
    answer = client.get("/api/v1/audit/me/access-log", headers=bearer(token))
    assert (answer.status_code, answer.json["error"]["reason"]) == (403, "assurance_too_low")


def test_staff_may_not_use_the_citizens_view(client, staff_token):
    answer = client.get("/api/v1/audit/me/access-log", headers=bearer(staff_token("clerk")))
    assert answer.status_code == 403


def test_access_log_pdf_lists_the_clerks_read(client, citizen, staff_token, card_session,
                                              tmp_path):
    siti = citizen(full_name="Siti Aminah")
    _read_by_clerk(client, staff_token, siti, "clinic registration")
    token = card_session(siti, assurance="pin", terminal_kind="kiosk")
    answer = client.get("/api/v1/audit/me/access-log.pdf", headers=bearer(token))
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    path = tmp_path / "access.pdf"
    path.write_bytes(answer.data)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "Who read my data" in text
    assert "clinic registration" in text and "clerk" in text
