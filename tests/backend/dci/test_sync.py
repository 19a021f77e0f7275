"""The synchronous endpoints: a search and a transaction's status, answered at once,
signed by us, every answer valid by the standard's document."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from backend.audit.models import AuditRecord
from backend.db import session
from backend.dci import jwks, signing
from backend.testing.registry import make_citizen, make_household
from tests.backend.dci.conftest import make_peer


def search(query_type, query, reference="r-1", **criteria):
    return {"transaction_id": "t-1", "search_request": [{
        "reference_id": reference, "timestamp": "2026-12-07T10:00:00Z",
        "search_criteria": {"query_type": query_type, "query": query, **criteria}}]}


def by_nik(nik, **criteria):
    return search("idtype-value", {"type": "NationalID", "value": nik}, **criteria)


def answered(dci, peer, message, path="/registry/sync/search", action="search"):
    answer = dci.post(path, peer.envelope(action, message), peer.token)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def test_a_sync_search_by_national_id_answers_the_person(app, dci, peer):
    siti = make_citizen(full_name="Siti Rahayu")
    body = answered(dci, peer, by_nik(siti.national_number))
    item = body["message"]["search_response"][0]
    assert item["status"] == "succ"
    [record] = item["data"]["reg_records"]
    assert record["name"]["given_name"] == "Siti Rahayu"
    assert item["pagination"]["total_count"] == 1


def test_the_answer_is_signed_with_the_key_our_jwks_publishes(app, client, dci, peer):
    body = answered(dci, peer, by_nik(make_citizen().national_number))
    keys = jwks.read(client.get("/dci/.well-known/jwks.json").get_json())
    signing.verify(body["signature"], body["header"], body["message"],
                   lambda sender, key_id: jwks.lookup(keys, sender, key_id))
    assert body["header"]["action"] == "on-search"


def test_every_person_shown_is_audited_as_read_by_the_peer(app, dci, peer):
    siti = make_citizen()
    answered(dci, peer, by_nik(siti.national_number))
    reads = session().execute(select(AuditRecord).where(
        AuditRecord.citizen_id == siti.id, AuditRecord.action == "citizen.data.read")
    ).scalars().all()
    assert [(r.actor_kind, r.actor) for r in reads] == [("peer", peer.row.sender_id)]


def test_a_group_search_by_family_card_answers_the_household(app, dci, peer):
    head = make_citizen(sex="M")
    family = make_household(head, [(make_citizen(), "spouse")], welfare_decile=3)
    body = answered(dci, peer, search("idtype-value", {
        "type": "FamilyCard", "value": family.family_card_number},
        response_entity="Group"))
    [group] = body["message"]["search_response"][0]["data"]["reg_records"]
    assert group["group_size"] == 2
    assert group["poverty_score"] == 3


def test_a_peer_with_the_person_scope_gets_no_groups(app, client, dci):
    narrow = make_peer(client, sender_id="narrow", scope="dci.person")
    family = make_household()
    body = answered(dci, narrow, search("idtype-value", {
        "type": "FamilyCard", "value": family.family_card_number}, response_entity="Group"))
    item = body["message"]["search_response"][0]
    assert item["status"] == "rjct"
    assert item["status_reason_code"] == "rjct.search_criteria.invalid"


def test_a_predicate_search_pages_through_an_area(app, dci, peer):
    region = "3171099999"
    for _ in range(3):
        make_citizen(region_code=region)
    body = answered(dci, peer, search("predicate", [{"seq_num": 1, "expression1": {
        "attribute_name": "region_code", "operator": "eq", "attribute_value": region}}],
        pagination={"page_size": 2, "page_number": 2}))
    item = body["message"]["search_response"][0]
    assert item["pagination"] == {"page_size": 2, "page_number": 2, "total_count": 3}
    assert len(item["data"]["reg_records"]) == 1


@pytest.mark.parametrize(("query_type", "query", "code"), [
    ("expression", {"type": "ns:org:QueryType:expression", "value": {}},
     "rjct.search_criteria.invalid"),
    ("predicate", [{"expression1": {"attribute_name": "income", "operator": "lt",
                                    "attribute_value": 5}}], "rjct.filter.invalid"),
])
def test_queries_that_do_not_map_onto_the_registry_are_refused_with_the_standards_code(
        app, dci, peer, query_type, query, code):
    body = answered(dci, peer, search(query_type, query))
    item = body["message"]["search_response"][0]
    assert (item["status"], item["status_reason_code"]) == ("rjct", code)


def test_a_page_size_beyond_the_limit_is_refused(app, dci, peer):
    body = answered(dci, peer, by_nik("3171011705900001",
                                      pagination={"page_size": 5000, "page_number": 1}))
    assert body["message"]["search_response"][0]["status_reason_code"] == \
        "rjct.pagination.invalid"


def test_a_sync_transaction_status_reports_an_earlier_search(app, dci, peer):
    first = answered(dci, peer, by_nik(make_citizen().national_number))
    correlation = first["message"]["correlation_id"]
    body = answered(dci, peer, {"transaction_id": "t-2", "txnstatus_request": {
        "reference_id": "s-1", "txn_type": "search", "attribute_type": "correlation_id",
        "attribute_value": correlation}}, path="/registry/sync/txn/status", action="txn-status")
    status = body["message"]["txnstatus_response"]["txn_status"]
    assert status["correlation_id"] == correlation
    assert status["search_response"][0]["status"] == "succ"


def test_groups_are_found_by_welfare_decile_and_sorted_as_asked(app, dci, peer):
    region = "3171088888"
    poorest = make_household(make_citizen(sex="M", region_code=region), welfare_decile=1)
    poorer = make_household(make_citizen(sex="M", region_code=region), welfare_decile=2)
    make_household(make_citizen(sex="M", region_code=region), welfare_decile=7)
    body = answered(dci, peer, search("predicate", [
        {"seq_num": 1, "expression1": {"attribute_name": "region_code", "operator": "eq",
                                       "attribute_value": region},
         "condition": "and",
         "expression2": {"attribute_name": "poverty_score", "operator": "le",
                         "attribute_value": 2}}],
        response_entity="Group", sort=[{"attribute_name": "poverty_score",
                                        "sort_order": "desc"}]))
    groups = body["message"]["search_response"][0]["data"]["reg_records"]
    assert [g["group_identifier"][0]["identifier_value"] for g in groups] == [
        poorer.family_card_number, poorest.family_card_number]


def test_an_unknown_sort_attribute_is_refused(app, dci, peer):
    body = answered(dci, peer, by_nik("1", sort=[{"attribute_name": "income",
                                                  "sort_order": "asc"}]))
    assert body["message"]["search_response"][0]["status_reason_code"] == "rjct.sort.invalid"


@pytest.mark.parametrize("size", [float("inf"), float("nan"), 2.0])
def test_a_page_size_that_is_not_an_integer_is_refused_not_failed(app, dci, peer, size):
    message = by_nik("3171011705900001", pagination={"page_size": size, "page_number": 1})
    answer = dci.post("/registry/sync/search", peer.envelope("search", message), peer.token,
                      valid_request=False)
    assert answer.status_code == 200
    assert answer.get_json()["message"]["search_response"][0]["status_reason_code"] == \
        "rjct.pagination.invalid"


def test_a_person_scoped_peer_cannot_list_a_family_by_its_card_number(app, client, dci):
    narrow = make_peer(client, sender_id="narrow", scope="dci.person")
    family = make_household(members=[(make_citizen(), "child")])
    body = answered(dci, narrow, search("idtype-value", {
        "type": "FamilyCard", "value": family.family_card_number}))
    item = body["message"]["search_response"][0]
    assert (item["status"], item["status_reason_code"]) == ("rjct",
                                                             "rjct.search_criteria.invalid")


def test_a_person_scoped_peer_cannot_list_an_areas_residents(app, client, dci):
    narrow = make_peer(client, sender_id="narrow", scope="dci.person")
    make_citizen(region_code="3171010001")
    body = answered(dci, narrow, search("predicate", [{"expression1": {
        "attribute_name": "region_code", "operator": "eq", "attribute_value": "317101"}}]))
    item = body["message"]["search_response"][0]
    assert (item["status"], item["status_reason_code"]) == ("rjct", "rjct.filter.invalid")


@pytest.mark.parametrize("target", ["FamilyCard", "region_code"])
def test_a_person_scoped_peer_cannot_follow_a_family_or_an_area(app, client, target):
    from backend.dci import subscriptions
    from backend.dci.models import DciSubscription

    narrow = make_peer(client, sender_id="narrow", scope="dci.person")
    family = make_household()
    criteria = {"reg_event_type": "REGISTER", "notify_record_type": "Person"}
    if target == "FamilyCard":
        criteria.update(filter_type="idtype-value",
                        filter={"type": "FamilyCard", "value": family.family_card_number})
    else:
        criteria.update(filter_type="predicate", filter=[{"expression1": {
            "attribute_name": "region_code", "operator": "eq", "attribute_value": "3171"}}])
    answer = subscriptions.subscribe_item(session(), narrow.row, "t-1", {
        "reference_id": "r-1", "timestamp": "2026-12-07T10:00:00Z",
        "subscribe_criteria": criteria})
    assert (answer["status"], answer["status_reason_code"]) == ("rjct",
                                                                "rjct.notify_details.invalid")
    assert session().scalar(select(DciSubscription.code)) is None


def test_a_token_asked_for_a_narrower_scope_answers_within_it(app, client, dci, peer):
    issued = client.post("/dci/oauth2/client/token", base_url="https://hub.test", data={
        "grant_type": "client_credentials", "client_id": peer.client_id,
        "client_secret": peer.secret, "scope": "dci.person"}).get_json()
    assert issued["scope"] == "dci.person"
    family = make_household()
    answer = dci.post("/registry/sync/search", peer.envelope("search", search(
        "idtype-value", {"type": "FamilyCard", "value": family.family_card_number},
        response_entity="Group")), issued["access_token"])
    item = answer.get_json()["message"]["search_response"][0]
    assert (item["status"], item["status_reason_code"]) == ("rjct",
                                                             "rjct.search_criteria.invalid")
