"""Notifications from a registry we pull from, at `/dci/registry/notify`: taken only
from a registry named in SATUKARTU_DCI_PULL_PEERS, with its token and signature (the
route checks them), once; their family cards imported as a pull's are, all of them or
none. Each request and answer validated against the standard's document."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func, select

from backend.db import session
from backend.dci import envelope, mapping
from backend.dci.envelope import Status
from backend.dci.mapping import Scope, Shown
from backend.dci.models import DciPullSubscription
from backend.registry.models import Citizen, Household, HouseholdMember
from backend.registry.national_ids import make_nik
from backend.testing.registry import make_citizen
from tests.backend.dci.conftest import SENDER, Checked, Peer

REGION = "3171030001"
AREA = "317103"


@pytest.fixture
def source(app, peer: Peer) -> Peer:
    """The registered peer, named as a registry we pull from, with our subscription
    there to the changes of AREA (what `satukartu registry pull` keeps)."""
    app.config["DCI_PULL_PEERS"] = (SENDER,)
    session().add(DciPullSubscription(correlation_id="c-1", peer_id=SENDER,
                                      region_prefix=AREA, transaction_id="t-1",
                                      reference_id="r-1", status="subscribe"))
    session().commit()
    return peer


def _group(card: str, head_name: str, seq: int, head_language: str = "id",
           region: str = REGION) -> dict[str, Any]:
    def person(name: str, sex: str, born: dt.date, n: int, language: str) -> SimpleNamespace:
        return SimpleNamespace(id=n, national_number=make_nik(REGION, born, sex, n),
                               full_name=name, birth_date=born, sex=sex,
                               address="Jl. Anggrek 3", region_code=region, language=language,
                               died_on=None, created_at=None)

    head = person(head_name, "M", dt.date(1975, 3, 4), seq, head_language)
    wife = person("Wulan Sari", "F", dt.date(1978, 8, 9), seq + 1, "id")
    family = SimpleNamespace(family_card_number=card, region_code=region, welfare_decile=4,
                             created_at=None, updated_at=None)
    return mapping.group(family, [("head", head), ("spouse", wife)],
                         Scope.of("dci.person dci.household"), Shown())


def _notification(peer: Peer, records: list[dict[str, Any]], transaction_id: str = "t-1"
                  ) -> dict[str, Any]:
    message = {"transaction_id": transaction_id, "notify_event": [
        {"reference_id": "r-1", "timestamp": envelope.timestamp(),
         "data": {"version": "1.0.0", "reg_type": mapping.REG_TYPE,
                  "reg_event_type": "REGISTER", "reg_record_type": "Group",
                  "reg_records": record}} for record in records]}
    header = envelope.callback_header("notify", sender_id=peer.row.sender_id,
                                      receiver_id="satukartu", status=Status.SUCCESS,
                                      total_count=len(records), completed_count=len(records))
    return {"signature": peer.sign(header, message), "header": header, "message": message}


def _nik_of(record: dict[str, Any]) -> str:
    return record["identifier"][0]["identifier_value"]


def _post(dci: Checked, peer: Peer, body: dict[str, Any]) -> Any:
    return dci.post("/registry/notify", body, peer.token)


def _count(model: Any) -> int:
    return session().scalar(select(func.count()).select_from(model))


def test_a_notified_family_card_is_imported(dci, source):
    answer = _post(dci, source, _notification(source, [_group("3171031203260001", "Rudi", 1)]))
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["message"]["ack_status"] == "ACK"
    family = session().scalar(select(Household).where(
        Household.family_card_number == "3171031203260001"))
    assert family is not None and family.welfare_decile == 4
    assert _count(Citizen) == 2


def test_a_notification_changed_after_it_was_signed_is_refused_and_nothing_is_written(
        dci, source):
    body = _notification(source, [_group("3171031203260002", "Rudi", 11),
                                  _group("3171031203260003", "Tono", 21)])
    body["message"]["notify_event"][1]["data"]["reg_records"]["poverty_score"] = 1
    answer = _post(dci, source, body)
    assert answer.status_code == 400
    assert answer.get_json()["message"]["error"]["code"] == "err.signature.invalid"
    assert (_count(Citizen), _count(Household)) == (0, 0)


def test_a_peer_not_named_as_a_registry_we_pull_from_is_forbidden(app, dci, peer):
    app.config["DCI_PULL_PEERS"] = ()
    answer = _post(dci, peer, _notification(peer, [_group("3171031203260004", "Rudi", 31)]))
    assert answer.status_code == 403
    assert answer.get_json()["errors"][0]["code"] == "err.request.forbidden"
    assert _count(Citizen) == 0


def test_the_same_notification_twice_is_refused_the_second_time(dci, source):
    body = _notification(source, [_group("3171031203260005", "Rudi", 41)])
    assert _post(dci, source, body).status_code == 200
    again = _post(dci, source, body)
    assert again.status_code == 409
    assert again.get_json()["message"]["error"]["code"] == "err.request.bad"


def test_a_family_card_without_a_head_is_refused_and_nothing_is_written(dci, source):
    record = _group("3171031203260006", "Rudi", 51)
    record["member_list"][0]["relationship_head"] = "other"
    answer = _post(dci, source, _notification(source, [_group("3171031203260007", "Tono", 61),
                                                  record]))
    assert answer.status_code == 400
    assert "exactly one head" in answer.get_json()["message"]["error"]["message"]
    assert (_count(Citizen), _count(Household)) == (0, 0)


def test_each_member_keeps_their_own_details_whatever_the_order_of_the_list(dci, source):
    record = _group("3171031203260008", "Rudi", 71, head_language="en")
    record["member_list"].reverse()  # the head last
    assert _post(dci, source, _notification(source, [record])).status_code == 200
    languages = dict(session().execute(select(Citizen.full_name, Citizen.language)).all())
    assert languages == {"Rudi": "en", "Wulan Sari": "id"}


def _members(card: str) -> set[str]:
    family = session().scalar(select(Household).where(Household.family_card_number == card))
    return {name for name, in session().execute(
        select(Citizen.full_name).join(HouseholdMember,
                                       HouseholdMember.citizen_id == Citizen.id)
        .where(HouseholdMember.household_id == family.id))}


def test_a_card_notified_again_with_a_member_gone_and_one_new_becomes_the_peers_card(
        dci, source):
    first = _group("3171031203260009", "Rudi", 81)
    assert _post(dci, source, _notification(source, [first])).status_code == 200
    second = _group("3171031203260009", "Rudi", 81)
    newborn = _group("3171031203260010", "Bima", 91)["member_list"][0]
    newborn["relationship_head"] = "child"
    second["member_list"] = [second["member_list"][0], newborn]
    answer = _post(dci, source, _notification(source, [second]))
    assert answer.status_code == 200, answer.get_json()
    assert _members("3171031203260009") == {"Rudi", "Bima"}
    assert _count(Citizen) == 3  # the spouse taken off the card stays registered


def test_the_head_of_another_of_our_cards_is_not_moved_by_a_notification(dci, source):
    ours = _group("3171031203260011", "Rudi", 101)
    assert _post(dci, source, _notification(source, [ours])).status_code == 200
    theirs = _group("3171031203260012", "Tono", 111)
    theirs["member_list"].append({**ours["member_list"][0], "relationship_head": "child"})
    answer = _post(dci, source, _notification(source, [theirs]))
    assert answer.status_code == 400
    assert "heads our family card" in answer.get_json()["message"]["error"]["message"]
    assert _members("3171031203260011") == {"Rudi", "Wulan Sari"}
    assert session().scalar(select(func.count()).where(
        Household.family_card_number == "3171031203260012")) == 0


def test_a_notification_answering_no_subscription_of_ours_is_forbidden(dci, source):
    body = _notification(source, [_group("3171031203260011", "Rudi", 81)], "t-unknown")
    answer = _post(dci, source, body)
    assert answer.status_code == 403
    assert answer.get_json()["errors"][0]["code"] == "err.request.forbidden"
    assert _count(Citizen) == 0


def test_a_notification_for_an_ended_subscription_is_forbidden(dci, source):
    session().get(DciPullSubscription, "c-1").status = "unsubscribe"
    session().commit()
    answer = _post(dci, source, _notification(source, [_group("3171031203260012", "Rudi", 91)]))
    assert answer.status_code == 403
    assert _count(Citizen) == 0


def test_a_family_card_outside_the_subscribed_region_is_forbidden_and_nothing_is_written(
        dci, source):
    body = _notification(source, [_group("3171031203260013", "Rudi", 101),
                                  _group("3273031203260014", "Tono", 111,
                                         region="3273030001")])
    answer = _post(dci, source, body)
    assert answer.status_code == 403
    assert answer.get_json()["errors"][0]["code"] == "err.request.forbidden"
    assert (_count(Citizen), _count(Household)) == (0, 0)


def test_a_death_of_one_of_our_people_outside_the_region_is_not_written(dci, source):
    record = _group("3171031203260015", "Rudi", 121)
    wife = record["member_list"][1]["demographic_info"]
    ours = make_citizen(national_number=_nik_of(wife), region_code="3273030001")
    wife["death_date"] = "2026-11-30"
    answer = _post(dci, source, _notification(source, [record]))
    assert answer.status_code == 403
    session().expire_all()
    assert session().get(Citizen, ours.id).died_on is None
    assert _count(Household) == 0


def test_a_pulled_page_with_a_card_outside_the_pulled_region_is_refused(app):
    from backend.dci import pull
    from backend.registry.history import Actor

    with pytest.raises(pull.OutsideRegion):
        pull.import_record(session(), "Group", _group("3273031203260016", "Tono", 131,
                                                      region="3273030001"),
                           Actor("system", "test"), pull.Counts(), AREA)
    assert _count(Citizen) == 0
