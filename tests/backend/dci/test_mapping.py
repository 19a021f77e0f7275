"""Our people and family cards as the standard's Person, Member and Group, and back."""

from __future__ import annotations

import pytest

from backend.db import session
from backend.dci import mapping
from backend.dci.mapping import Scope, Shown
from backend.registry import households
from backend.testing.registry import make_citizen, make_household

PERSON_ONLY = Scope.of("dci.person")
HOUSEHOLD = Scope.of("dci.person dci.household")


def test_a_person_maps_to_an_srperson_and_back_unchanged(app):
    siti = make_citizen(full_name="Siti Rahayu", sex="F")
    record, shown = mapping.person(siti, HOUSEHOLD)
    assert record["identifier"] == [mapping.identifier("NationalID", siti.national_number)]
    assert record["sex"] == "female"
    back = mapping.person_fields(record)
    assert back == {"national_number": siti.national_number, "full_name": "Siti Rahayu",
                    "birth_date": siti.birth_date, "sex": "F", "address": siti.address,
                    "region_code": siti.region_code}
    assert set(shown) >= {"national_number", "address"}


def test_the_person_scope_leaves_the_address_out(app):
    record, shown = mapping.person(make_citizen(), PERSON_ONLY)
    assert "address" not in record
    assert "address" not in shown


def test_a_household_maps_to_a_group_with_its_head_and_members_and_back(app):
    head = make_citizen(sex="M", full_name="Budi Santoso")
    child = make_citizen(sex="F", full_name="Ani Santoso")
    family = make_household(head, [(child, "child")], welfare_decile=2)
    shown = Shown()
    group = mapping.group(family, [(m.relationship, c) for m, c in
                                   households.members(session(), family.id)], HOUSEHOLD, shown)
    assert group["group_head_info"]["demographic_info"]["name"]["given_name"] == "Budi Santoso"
    assert group["group_size"] == 2
    back = mapping.group_fields(group)
    assert back["family_card_number"] == family.family_card_number
    assert back["welfare_decile"] == 2
    assert [(r, p["national_number"]) for r, p in back["members"]] == [
        ("head", head.national_number), ("child", child.national_number)]
    assert set(shown.fields) == {head.id, child.id}


def test_a_group_without_exactly_one_head_is_refused_on_the_way_back(app):
    with pytest.raises(mapping.MappingError):
        mapping.group_fields({"group_identifier": [mapping.identifier("FamilyCard", "1")],
                              "member_list": []})
