"""Households: the head is always a member, one card per person, history of each change."""

from sqlalchemy import func, select

from backend.db import session
from backend.reasons import Reason
from backend.registry.models import Household, HouseholdMember
from tests.backend.registry.conftest import audit_records

URL = "/api/v1/households"
PURPOSE = {"purpose": "check family composition"}
CARD = "3578081510120007"


def _body(head, others=(), **fields):
    members = [{"citizen_id": head.id, "relationship": "head"}]
    members += [{"citizen_id": p.id, "relationship": r} for p, r in others]
    return {"family_card_number": CARD, "head_citizen_id": head.id, "welfare_decile": 2,
            "members": members, **fields}


def _households():
    return session().scalar(select(func.count()).select_from(Household))


def test_a_household_is_registered_with_its_members(client, clerk, citizen):
    head, wife, child = citizen(sex="M"), citizen(sex="F"), citizen(sex="F")
    answer = client.post(URL, json=_body(head, [(wife, "spouse"), (child, "child")]),
                         headers=clerk)
    assert answer.status_code == 201, answer.json
    family = answer.json
    assert family["region_code"] == head.region_code
    assert {m["citizen_id"]: m["relationship"] for m in family["members"]} == {
        head.id: "head", wife.id: "spouse", child.id: "child"}


def test_a_head_who_is_not_a_member_is_refused_and_nothing_written(client, clerk, citizen):
    head, wife = citizen(sex="M"), citizen(sex="F")
    body = _body(head, [(wife, "spouse")])
    body["members"] = body["members"][1:]
    before = _households()
    answer = client.post(URL, json=body, headers=clerk)
    assert answer.status_code == 422
    assert answer.json["error"]["reason"] == Reason.HEAD_NOT_MEMBER
    assert _households() == before
    assert session().get(HouseholdMember, wife.id) is None


def test_a_second_head_in_the_member_list_is_refused(client, clerk, citizen):
    head, other = citizen(sex="M"), citizen(sex="M")
    body = _body(head)
    body["members"].append({"citizen_id": other.id, "relationship": "head"})
    answer = client.post(URL, json=body, headers=clerk)
    assert answer.status_code == 400


def test_a_person_on_another_card_cannot_join(client, clerk, citizen, household):
    family = household()
    newcomer = citizen(sex="M")
    body = _body(newcomer)
    body["members"].append({"citizen_id": family.head_citizen_id, "relationship": "other"})
    answer = client.post(URL, json=body, headers=clerk)
    assert answer.status_code == 409
    assert answer.json["error"]["reason"] == Reason.ALREADY_IN_HOUSEHOLD
    assert session().get(HouseholdMember, newcomer.id) is None


def test_a_family_card_number_is_registered_once(client, clerk, citizen, household):
    existing = household()
    head = citizen(sex="M")
    answer = client.post(URL, json=_body(head, family_card_number=existing.family_card_number),
                         headers=clerk)
    assert answer.status_code == 409
    assert answer.json["error"]["reason"] == Reason.DUPLICATE_FAMILY_CARD


def test_an_invalid_family_card_number_is_refused(client, clerk, citizen):
    answer = client.post(URL, json=_body(citizen(sex="M"),
                                         family_card_number="1078081510120007"),
                         headers=clerk)
    assert answer.status_code == 422
    assert answer.json["error"]["reason"] == Reason.INVALID_FAMILY_CARD_NUMBER


def test_a_new_head_must_already_be_a_member(client, clerk, citizen, household):
    family = household()
    outsider = citizen(sex="M")
    answer = client.patch(f"{URL}/{family.id}", json={"head_citizen_id": outsider.id},
                          headers=clerk)
    assert answer.status_code == 422
    assert answer.json["error"]["reason"] == Reason.HEAD_NOT_MEMBER


def test_the_head_passes_to_a_member_and_the_old_head_stays(client, clerk, citizen, household):
    wife = citizen(sex="F")
    family = household(members=[(wife, "spouse")])
    old_head = family.head_citizen_id
    answer = client.patch(f"{URL}/{family.id}", headers=clerk, json={
        "head_citizen_id": wife.id, "previous_head_relationship": "spouse"})
    assert answer.status_code == 200, answer.json
    relations = {m["citizen_id"]: m["relationship"] for m in answer.json["members"]}
    assert relations == {wife.id: "head", old_head: "spouse"}


def test_the_head_cannot_be_removed(client, clerk, household):
    family = household()
    answer = client.delete(f"{URL}/{family.id}/members/{family.head_citizen_id}",
                           headers=clerk)
    assert answer.status_code == 422
    assert answer.json["error"]["reason"] == Reason.HEAD_NOT_MEMBER


def test_members_are_added_and_removed(client, clerk, citizen, household):
    family = household()
    baby = citizen(sex="F")
    added = client.post(f"{URL}/{family.id}/members", headers=clerk,
                        json={"citizen_id": baby.id, "relationship": "child"})
    assert added.status_code == 201
    removed = client.delete(f"{URL}/{family.id}/members/{baby.id}", headers=clerk)
    assert removed.status_code == 204
    assert session().get(HouseholdMember, baby.id) is None


def test_a_member_cannot_be_added_as_a_second_head(client, clerk, citizen, household):
    family = household()
    answer = client.post(f"{URL}/{family.id}/members", headers=clerk,
                         json={"citizen_id": citizen().id, "relationship": "head"})
    assert answer.status_code == 400


def test_a_decile_change_shows_on_the_members_record(client, clerk, household):
    family = household(welfare_decile=3)
    client.patch(f"{URL}/{family.id}", json={"welfare_decile": 1}, headers=clerk)
    record = client.get(f"/api/v1/citizens/{family.head_citizen_id}",
                        query_string=PURPOSE, headers=clerk).json
    assert record["household"]["welfare_decile"] == 1


def test_a_decile_outside_one_to_ten_is_refused(client, clerk, household):
    family = household()
    answer = client.patch(f"{URL}/{family.id}", json={"welfare_decile": 11}, headers=clerk)
    assert answer.status_code == 400
    assert session().get(Household, family.id).welfare_decile == 3


def test_reading_a_household_audits_a_read_of_each_member(client, clerk, citizen, household):
    wife = citizen(sex="F")
    family = household(members=[(wife, "spouse")])
    answer = client.get(f"{URL}/{family.id}", query_string=PURPOSE, headers=clerk)
    assert answer.status_code == 200
    for member in (family.head_citizen_id, wife.id):
        assert [r.purpose for r in audit_records("citizen.data.read", member)] == [
            PURPOSE["purpose"]]


def test_membership_changes_show_in_the_persons_history(client, clerk, citizen, household):
    family = household()
    baby = citizen(sex="M")
    client.post(f"{URL}/{family.id}/members", headers=clerk,
                json={"citizen_id": baby.id, "relationship": "child"})
    history = client.get(f"/api/v1/citizens/{baby.id}/history", query_string=PURPOSE,
                         headers=clerk).json["changes"]
    assert [(c["action"], c["field"], c["new_value"]) for c in history] == [
        ("member_add", "relationship", "child")]
