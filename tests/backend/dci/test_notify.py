"""Which subscriptions a registry change touches, and what their notification carries
(the tasks run here by `.run`; the worker and the HTTP delivery are test_callbacks')."""

from __future__ import annotations

import json

from backend.db import session
from backend.dci import subscriptions
from backend.dci.models import DciSubscription
from backend.dci.tasks import notify, send_notification
from backend.registry import households
from backend.registry.history import Actor
from backend.testing.registry import make_citizen, make_household
from tests.backend.dci.conftest import make_peer
from tests.backend.dci.receiver import receiving


def subscribe(peer, record_type="Person", **target) -> DciSubscription:
    row = DciSubscription(code=f"c-{len(target)}-{record_type}", peer_id=peer.row.sender_id,
                          transaction_id="t-1", reference_id="r-1",
                          reg_event_type="REGISTER", notify_record_type=record_type,
                          filter="{}", status="subscribe", **target)
    session().add(row)
    session().commit()
    return row


def test_an_area_subscription_is_touched_by_a_change_in_that_area_only(app, peer):
    inside = make_citizen(region_code="3171010001")
    outside = make_citizen(region_code="3273010001")
    subscribe(peer, region_prefix="317101")
    assert [c for _s, c in subscriptions.matching(session(), [inside.id, outside.id])] == [
        inside.id]


def test_a_family_card_subscription_is_touched_by_a_members_change(app, peer):
    child = make_citizen()
    family = make_household(members=[(child, "child")])
    subscribe(peer, "Group", household_id=family.id)
    assert notify.run([child.id], [], "REGISTER") == 1


def test_an_ended_subscription_is_not_touched(app, peer):
    person = make_citizen()
    row = subscribe(peer, citizen_id=person.id)
    subscriptions.unsubscribe(session(), peer.row, [row.code])
    assert subscriptions.matching(session(), [person.id]) == []


def test_a_group_notification_carries_the_family_card_with_the_new_member(app, client,
                                                                          tmp_path):
    with receiving() as peer_side:
        peer = make_peer(client, sender_id="groups", callback_uri=peer_side.base)
        listed = tmp_path / "peer-credentials.json"
        listed.write_text(json.dumps(peer_side.credentials("groups")))
        app.config["DCI_PEER_CREDENTIALS_FILE"] = str(listed)
        head = make_citizen(sex="M")
        family = make_household(head)
        row = subscribe(peer, "Group", household_id=family.id)
        newborn = make_citizen(full_name="Bayi Santoso")
        households.add_member(session(), family, newborn.id, "child", Actor("staff", "clerk"))
        assert send_notification.run(row.code, [newborn.id], "NewHouseHoldMember") == "sent"
        [notified] = peer_side.wait_for("/dci/registry/notify")
    [event] = notified.body["message"]["notify_event"]
    assert event["data"]["reg_event_type"] == "NewHouseHoldMember"
    names = [m["demographic_info"]["name"]["given_name"]
             for m in event["data"]["reg_records"]["member_list"]]
    assert "Bayi Santoso" in names
