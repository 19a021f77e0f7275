"""Search by national number and by name: minimal fields, pages, every result audited."""

from backend.reasons import Reason
from tests.backend.registry.conftest import audit_records

URL = "/api/v1/citizens"


def _search(client, headers, **params):
    return client.get(URL, query_string={"purpose": "find the applicant", **params},
                      headers=headers)


def test_search_by_name_ignores_case_and_finds_any_part(client, clerk, citizen):
    siti = citizen(full_name="Siti Nurhaliza Wulandari")
    citizen(full_name="Budi Santoso", sex="M")
    answer = _search(client, clerk, name="NURHALIZA")
    assert answer.status_code == 200
    assert [item["id"] for item in answer.json["items"]] == [siti.id]


def test_search_returns_only_minimal_fields(client, clerk, citizen):
    citizen(full_name="Siti Nurhaliza Wulandari")
    item = _search(client, clerk, name="nurhaliza").json["items"][0]
    assert set(item) == {"id", "national_number", "full_name", "birth_year", "deceased"}


def test_search_by_number_is_exact_and_tolerates_separators(client, clerk, citizen):
    person = citizen()
    spaced = f"{person.national_number[:6]} {person.national_number[6:12]}-" \
             f"{person.national_number[12:]}"
    items = _search(client, clerk, number=spaced).json["items"]
    assert [i["id"] for i in items] == [person.id]
    assert _search(client, clerk, number=person.national_number[:15]).json["items"] == []


def test_search_pages_through_results_in_a_stable_order(client, clerk, citizen):
    made = [citizen(full_name=f"Kartika Paging {n}").id for n in range(5)]
    first = _search(client, clerk, name="kartika paging", per_page=2).json
    second = _search(client, clerk, name="kartika paging", per_page=2, page=2).json
    third = _search(client, clerk, name="kartika paging", per_page=2, page=3).json
    assert first["has_more"] and second["has_more"] and not third["has_more"]
    found = [i["id"] for page in (first, second, third) for i in page["items"]]
    assert found == sorted(made)


def test_percent_in_a_name_search_is_a_character_not_a_wildcard(client, clerk, citizen):
    citizen(full_name="Dewi Lestari")
    assert _search(client, clerk, name="d%i").json["items"] == []


def test_search_needs_a_number_or_a_name(client, clerk):
    answer = _search(client, clerk)
    assert answer.status_code == 400
    assert answer.json["error"]["reason"] == Reason.VALIDATION_FAILED


def test_each_person_found_is_an_audited_read(client, clerk, citizen):
    a = citizen(full_name="Rahmat Audited One", sex="M")
    b = citizen(full_name="Rahmat Audited Two", sex="M")
    _search(client, clerk, name="rahmat audited")
    for person in (a, b):
        reads = audit_records("citizen.data.read", person.id)
        assert [r.purpose for r in reads] == ["find the applicant"]


def test_a_search_without_a_purpose_is_refused(client, clerk):
    answer = client.get(URL, query_string={"name": "siti"}, headers=clerk)
    assert answer.status_code == 400
    assert answer.json["error"]["details"]["errors"][0]["field"] == "purpose"


def test_an_auditor_may_search(client, as_role, citizen):
    citizen(full_name="Wahyu Auditor Search", sex="M")
    answer = _search(client, as_role("auditor"), name="auditor search")
    assert answer.status_code == 200 and len(answer.json["items"]) == 1
