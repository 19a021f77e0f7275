"""School enrolments and health assignments: registry facts the services read."""

from backend.reasons import Reason

PURPOSE = {"purpose": "education stipend check"}
ENROLMENT = {"school_code": "20081010", "school_name": "SD Negeri 10 Gubeng",
             "level": "primary", "grade": 4, "academic_year": "2026/2027"}
HEALTH = {"facility_code": "13570801", "facility_name": "Puskesmas Gubeng", "jkn_class": 3,
          "premium_assisted": True}


def test_an_enrolment_is_recorded_and_shown_on_the_record(client, clerk, citizen):
    child = citizen(sex="M")
    answer = client.post(f"/api/v1/citizens/{child.id}/enrolments", json=ENROLMENT,
                         headers=clerk)
    assert answer.status_code == 201, answer.json
    record = client.get(f"/api/v1/citizens/{child.id}", query_string=PURPOSE,
                        headers=clerk).json
    assert [(e["school_code"], e["grade"], e["active"]) for e in record["enrolments"]] == [
        ("20081010", 4, True)]


def test_a_grade_as_text_is_a_wrong_type(client, clerk, citizen):
    answer = client.post(f"/api/v1/citizens/{citizen().id}/enrolments", headers=clerk,
                         json={**ENROLMENT, "grade": "4"})
    assert answer.status_code == 400
    assert answer.json["error"]["reason"] == Reason.VALIDATION_FAILED


def test_an_enrolment_ends_with_its_change_in_the_history(client, clerk, citizen):
    child = citizen(sex="M")
    made = client.post(f"/api/v1/citizens/{child.id}/enrolments", json=ENROLMENT,
                       headers=clerk).json
    answer = client.patch(f"/api/v1/citizens/{child.id}/enrolments/{made['id']}",
                          json={"active": False}, headers=clerk)
    assert answer.json["active"] is False
    history = client.get(f"/api/v1/citizens/{child.id}/history", query_string=PURPOSE,
                         headers=clerk).json["changes"]
    assert ("update", "active", "true", "false") in [
        (c["action"], c["field"], c["old_value"], c["new_value"]) for c in history]


def test_another_persons_enrolment_is_not_found(client, clerk, citizen):
    child, other = citizen(sex="M"), citizen(sex="F")
    made = client.post(f"/api/v1/citizens/{child.id}/enrolments", json=ENROLMENT,
                       headers=clerk).json
    answer = client.patch(f"/api/v1/citizens/{other.id}/enrolments/{made['id']}",
                          json={"active": False}, headers=clerk)
    assert answer.status_code == 404


def test_a_health_assignment_is_set_then_replaced(client, clerk, citizen):
    person = citizen()
    first = client.put(f"/api/v1/citizens/{person.id}/health", json=HEALTH, headers=clerk)
    second = client.put(f"/api/v1/citizens/{person.id}/health", headers=clerk,
                        json={**HEALTH, "jkn_class": 2, "premium_assisted": False})
    assert first.status_code == 200 and second.status_code == 200
    assert (second.json["jkn_class"], second.json["premium_assisted"]) == (2, False)


def test_a_jkn_class_outside_one_to_three_is_refused(client, clerk, citizen):
    answer = client.put(f"/api/v1/citizens/{citizen().id}/health", headers=clerk,
                        json={**HEALTH, "jkn_class": 4})
    assert answer.status_code == 400
