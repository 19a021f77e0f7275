"""People through the API: register, read with a purpose, correct, search, record a death."""

import datetime as dt
import json

from sqlalchemy import func, select

from backend.db import session
from backend.reasons import Reason
from backend.registry.models import Citizen
from tests.backend.registry.conftest import audit_records, new_citizen_body

PURPOSE = {"purpose": "counter service"}


def _count_citizens():
    return session().scalar(select(func.count()).select_from(Citizen))


def test_a_clerk_registers_a_person(client, clerk):
    answer = client.post("/api/v1/citizens", json=new_citizen_body(), headers=clerk)
    assert answer.status_code == 201, answer.json
    assert answer.json["full_name"] == "Siti Aminah"
    assert answer.json["national_number"] == "3578085705900003"
    assert answer.json["died_on"] is None


def test_registration_is_in_the_history_and_the_audit_log(client, clerk):
    person = client.post("/api/v1/citizens", json=new_citizen_body(), headers=clerk).json
    created = audit_records("registry.citizen.create", person["id"])
    assert len(created) == 1 and created[0].actor_kind == "staff"


def test_malformed_json_is_refused_and_nothing_is_written(client, clerk):
    before = _count_citizens()
    answer = client.post("/api/v1/citizens", data="{not json",
                         headers={**clerk, "Content-Type": "application/json"})
    assert answer.status_code == 400
    assert answer.json["error"]["reason"] == Reason.MALFORMED_JSON
    assert _count_citizens() == before


def test_a_number_for_a_date_is_a_wrong_type(client, clerk):
    answer = client.post("/api/v1/citizens", json=new_citizen_body(birth_date=19900517),
                         headers=clerk)
    assert answer.status_code == 400
    assert answer.json["error"]["reason"] == Reason.VALIDATION_FAILED
    assert answer.json["error"]["details"]["errors"][0]["field"] == "birth_date"


def test_a_list_for_a_name_is_a_wrong_type(client, clerk):
    answer = client.post("/api/v1/citizens", json=new_citizen_body(full_name=["Siti"]),
                         headers=clerk)
    assert answer.status_code == 400
    assert answer.json["error"]["reason"] == Reason.VALIDATION_FAILED


def test_an_unknown_field_is_refused_by_name(client, clerk):
    answer = client.post("/api/v1/citizens", json=new_citizen_body(religion="x"),
                         headers=clerk)
    assert answer.status_code == 400
    assert answer.json["error"]["reason"] == Reason.UNKNOWN_FIELD
    assert answer.json["error"]["details"]["errors"][0]["field"] == "religion"


def test_an_invalid_nik_is_refused_with_the_exact_problem(client, clerk):
    before = _count_citizens()
    answer = client.post("/api/v1/citizens", headers=clerk,
                         json=new_citizen_body(national_number="1078085705900003"))
    assert answer.status_code == 422
    error = answer.json["error"]
    assert error["reason"] == Reason.INVALID_NATIONAL_NUMBER
    assert error["details"]["problems"] == [
        {"format": "nik", "problem": "province code 10 does not exist"}]
    assert _count_citizens() == before


def test_a_nik_that_disagrees_with_the_sex_is_refused(client, clerk):
    answer = client.post("/api/v1/citizens", json=new_citizen_body(sex="M"), headers=clerk)
    assert answer.status_code == 422
    assert "woman" in answer.json["error"]["details"]["problems"][0]["problem"]


def test_a_duplicate_national_number_is_refused(client, clerk, citizen):
    existing = citizen(sex="F", birth_date=dt.date(1990, 5, 17))
    before = _count_citizens()
    answer = client.post("/api/v1/citizens", headers=clerk,
                         json=new_citizen_body(national_number=existing.national_number))
    assert answer.status_code == 409
    assert answer.json["error"]["reason"] == Reason.DUPLICATE_NATIONAL_NUMBER
    assert _count_citizens() == before


def test_an_auditor_may_not_register_people(client, as_role):
    answer = client.post("/api/v1/citizens", json=new_citizen_body(),
                         headers=as_role("auditor"))
    assert answer.status_code == 403
    assert answer.json["error"]["reason"] == Reason.ROLE_NOT_ALLOWED


def test_a_read_needs_a_purpose(client, clerk, citizen):
    person = citizen()
    answer = client.get(f"/api/v1/citizens/{person.id}", headers=clerk)
    assert answer.status_code == 400
    assert answer.json["error"]["details"]["errors"][0]["field"] == "purpose"


def test_a_read_is_audited_with_its_purpose_and_fields(client, clerk, citizen):
    person = citizen()
    answer = client.get(f"/api/v1/citizens/{person.id}", query_string=PURPOSE, headers=clerk)
    assert answer.status_code == 200
    assert answer.json["national_number"] == person.national_number
    reads = audit_records("citizen.data.read", person.id)
    assert [r.purpose for r in reads] == ["counter service"]
    assert "full_name" in json.loads(reads[0].details)["fields"]


def test_a_counter_terminal_reads_and_a_kiosk_does_not(client, citizen, terminal):
    person = citizen()
    url = f"/api/v1/citizens/{person.id}"
    counter = client.get(url, query_string=PURPOSE,
                         headers={"Authorization": f"Bearer {terminal('counter').token}"})
    kiosk = client.get(url, query_string=PURPOSE,
                       headers={"Authorization": f"Bearer {terminal('kiosk').token}"})
    assert counter.status_code == 200
    assert kiosk.status_code == 403
    assert kiosk.json["error"]["reason"] == Reason.TERMINAL_KIND_NOT_ALLOWED


def test_an_agent_may_not_read_the_registry(client, as_role, citizen):
    answer = client.get(f"/api/v1/citizens/{citizen().id}", query_string=PURPOSE,
                        headers=as_role("agent"))
    assert answer.status_code == 403


def test_reading_an_unknown_person_is_not_found(client, clerk):
    answer = client.get("/api/v1/citizens/999999999", query_string=PURPOSE, headers=clerk)
    assert answer.status_code == 404
    assert answer.json["error"]["reason"] == Reason.NOT_FOUND


def test_a_correction_is_in_the_history_with_who_what_and_from_what(client, clerk, citizen):
    person = citizen(full_name="Siti Rahayu", address="Jl. Lama 1")
    answer = client.patch(f"/api/v1/citizens/{person.id}", headers=clerk,
                          json={"address": "Jl. Baru 2", "language": "jv"})
    assert answer.status_code == 200, answer.json
    history = client.get(f"/api/v1/citizens/{person.id}/history", query_string=PURPOSE,
                         headers=clerk).json["changes"]
    changed = {c["field"]: (c["old_value"], c["new_value"]) for c in history
               if c["action"] == "update"}
    assert changed == {"address": ("Jl. Lama 1", "Jl. Baru 2"), "language": ("id", "jv")}
    assert {c["actor_kind"] for c in history} == {"staff"}
    assert all(c["at"] for c in history)


def test_a_correction_is_audited_in_the_same_request(client, clerk, citizen):
    person = citizen()
    client.patch(f"/api/v1/citizens/{person.id}", json={"address": "Jl. Baru 2"},
                 headers=clerk)
    updates = audit_records("registry.citizen.update", person.id)
    assert len(updates) == 1
    assert json.loads(updates[0].details)["fields"] == ["address"]


def test_changing_the_sex_alone_is_refused_when_the_nik_says_otherwise(client, clerk, citizen):
    person = citizen(sex="F")
    answer = client.patch(f"/api/v1/citizens/{person.id}", json={"sex": "M"}, headers=clerk)
    assert answer.status_code == 422
    assert answer.json["error"]["reason"] == Reason.INVALID_NATIONAL_NUMBER
    session().refresh(person)
    assert person.sex == "F"


def test_a_refused_correction_writes_no_history(client, clerk, citizen):
    person = citizen()
    client.patch(f"/api/v1/citizens/{person.id}", json={"full_name": None}, headers=clerk)
    history = client.get(f"/api/v1/citizens/{person.id}/history", query_string=PURPOSE,
                         headers=clerk).json["changes"]
    assert [c for c in history if c["action"] == "update"] == []


def test_delete_is_refused_people_are_not_deleted(client, admin, citizen):
    person = citizen()
    answer = client.delete(f"/api/v1/citizens/{person.id}", headers=admin)
    assert answer.status_code == 405
    assert answer.json["error"]["reason"] == Reason.DELETE_NOT_ALLOWED
    assert session().get(Citizen, person.id) is not None


def test_a_death_is_recorded_and_closes_the_record(client, clerk, citizen):
    person = citizen()
    answer = client.post(f"/api/v1/citizens/{person.id}/death", headers=clerk,
                         json={"died_on": "2026-03-01", "certificate_ref": "AKM-1"})
    assert answer.status_code == 200, answer.json
    assert answer.json["died_on"] == "2026-03-01"
    again = client.post(f"/api/v1/citizens/{person.id}/death", headers=clerk,
                        json={"died_on": "2026-03-02"})
    assert again.status_code == 409
    assert again.json["error"]["reason"] == Reason.CITIZEN_DECEASED
    edit = client.patch(f"/api/v1/citizens/{person.id}", json={"address": "x"}, headers=clerk)
    assert edit.json["error"]["reason"] == Reason.CITIZEN_DECEASED


def test_a_death_before_the_birth_is_refused(client, clerk, citizen):
    person = citizen()
    answer = client.post(f"/api/v1/citizens/{person.id}/death", headers=clerk,
                         json={"died_on": "1980-01-01"})
    assert answer.status_code == 400
    assert session().get(Citizen, person.id).died_on is None


def test_a_death_ends_school_and_health_facts(client, clerk, citizen):
    person = citizen()
    url = f"/api/v1/citizens/{person.id}"
    client.put(f"{url}/health", headers=clerk, json={
        "facility_code": "13570801", "facility_name": "Puskesmas Gubeng", "jkn_class": 3,
        "premium_assisted": True})
    client.post(f"{url}/death", json={"died_on": "2026-03-01"}, headers=clerk)
    record = client.get(url, query_string=PURPOSE, headers=clerk).json
    assert record["health"]["active"] is False


def test_an_id_beyond_the_databases_integers_is_not_found(client, clerk):
    huge = 10**20
    read = client.get(f"/api/v1/citizens/{huge}", query_string=PURPOSE, headers=clerk)
    death = client.post(f"/api/v1/citizens/{huge}/death", json={"died_on": "2026-01-01"},
                        headers=clerk)
    family = client.get(f"/api/v1/households/{huge}", query_string=PURPOSE, headers=clerk)
    assert (read.status_code, death.status_code, family.status_code) == (404, 404, 404)


def test_a_malformed_page_number_is_refused_not_a_crash(client, clerk):
    answer = client.get("/api/v1/citizens", headers=clerk,
                        query_string={"purpose": "find", "name": "siti", "page": "x"})
    assert answer.status_code == 400
