"""Appeals over the API: a citizen files with the card and PIN, a clerk takes and
resolves, the citizen reads the answer; each step audited, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from backend.errors import ApiError
from backend.reasons import Reason
from backend.testing.identity import bearer, make_staff
from tests.backend.grievances.refusals import recorded_refusal  # noqa: F401 (a fixture)

W = "/api/v1/grievances"


def refusal(seq, **more):
    return {"subject": "refusal", "refusal": seq, **more}


@pytest.fixture
def clerks(app):
    return make_staff(app, "clerk"), make_staff(app, "clerk")


@pytest.fixture
def filed(client, citizen, card_session, recorded_refusal):  # noqa: F811
    """`filed(body=None, holder=None, **more)` -> (the filing's answer, the card session
    token); with no body, about a refusal the holder has just been given."""
    def make(body=None, holder=None, terminal_kind="kiosk", **more):
        token = card_session(holder or citizen(), terminal_kind=terminal_kind)
        body = body or refusal(recorded_refusal(token), **more)
        answer = client.post(W, json=body, headers=bearer(token))
        return answer, token
    return make


def _reason(answer):
    return answer.json["error"]["reason"]


def test_an_appeal_filed_at_a_kiosk_is_open_and_due_by_the_citys_service_level(
        app, filed):
    answer, _ = filed()
    assert answer.status_code == 200, answer.json
    appeal = answer.json["appeal"]
    assert (appeal["status"], appeal["channel"], appeal["reason"], appeal["programme"],
            appeal["action"]) == ("open", "kiosk", "not_eligible", "civil_documents",
                                  "family_card_extract")
    days = app.config["GRIEVANCE_RESOLUTION_DAYS"]
    filed_day = dt.datetime.fromisoformat(appeal["filed_at"]).astimezone(
        ZoneInfo(app.config["CITY_TIMEZONE"])).date()
    assert appeal["due_on"] == (filed_day + dt.timedelta(days=days)).isoformat()
    assert answer.json["already_open"] is False


def test_an_appeal_filed_at_a_counter_says_so(filed):
    answer, _ = filed(terminal_kind="counter")
    assert answer.json["appeal"]["channel"] == "counter"


def test_a_tap_without_the_pin_cannot_file(client, citizen, card_session):
    token = card_session(citizen(), assurance="tap")
    answer = client.post(W, json=refusal(1), headers=bearer(token))
    assert (answer.status_code, _reason(answer)) == (403, Reason.ASSURANCE_TOO_LOW)


def test_filing_again_about_the_same_refusal_answers_the_open_appeal(client, filed):
    first, token = filed()
    again = client.post(W, json=refusal(first.json["appeal"]["refusal"]),
                        headers=bearer(token))
    assert again.json["already_open"] is True
    assert again.json["appeal"]["id"] == first.json["appeal"]["id"]


def test_a_second_refusal_is_a_second_appeal(client, filed, recorded_refusal):  # noqa: F811
    first, token = filed()
    second = client.post(W, json=refusal(recorded_refusal(token)), headers=bearer(token))
    assert second.json["already_open"] is False
    assert second.json["appeal"]["id"] != first.json["appeal"]["id"]


def test_the_citizen_lists_their_refusals_with_the_number_to_appeal_with(
        client, citizen, card_session, recorded_refusal, audit_log):  # noqa: F811
    holder = citizen()
    token = card_session(holder)
    seq = recorded_refusal(token)
    items = client.get(f"{W}/refusals", headers=bearer(token)).json["items"]
    assert [(i["refusal"], i["reason"], i["programme"]) for i in items] == [
        (seq, "not_eligible", "civil_documents")]
    assert audit_log(action="grievance.own_refusals", citizen_id=holder.id)


def test_a_refusal_that_was_never_recorded_is_not_appealed(filed):
    answer, _ = filed(refusal(10**12))
    assert (answer.status_code, _reason(answer)) == (422, Reason.GRIEVANCE_SUBJECT_INVALID)


def test_someone_elses_refusal_is_not_appealed(client, citizen, card_session,
                                               recorded_refusal):  # noqa: F811
    theirs = recorded_refusal(card_session(citizen()))
    mine = card_session(citizen())
    answer = client.post(W, json=refusal(theirs), headers=bearer(mine))
    assert (answer.status_code, _reason(answer)) == (422, Reason.GRIEVANCE_SUBJECT_INVALID)


def test_a_record_that_is_not_a_refusal_is_not_appealed(client, citizen, card_session,
                                                        audit_log):
    holder = citizen()
    token = card_session(holder)
    client.get(f"{W}/mine", headers=bearer(token))
    own_read = audit_log(action="grievance.own_read", citizen_id=holder.id)[-1]["seq"]
    answer = client.post(W, json=refusal(own_read), headers=bearer(token))
    assert (answer.status_code, _reason(answer)) == (422, Reason.GRIEVANCE_SUBJECT_INVALID)


def test_a_refusal_over_a_year_old_is_not_appealed(client, citizen, card_session,
                                                   recorded_refusal):  # noqa: F811
    from backend.audit.models import AuditRecord
    from backend.db import session
    from backend.grievances import subjects

    token = card_session(citizen())
    seq = recorded_refusal(token)
    at = session().get(AuditRecord, seq).at
    with pytest.raises(ApiError) as refused:
        subjects.refusal(session(), session().get(AuditRecord, seq).citizen_id, seq,
                         at + subjects.OLDEST + dt.timedelta(minutes=1))
    assert refused.value.reason == Reason.GRIEVANCE_SUBJECT_INVALID


def test_the_citizens_own_receipt_can_be_appealed(client, citizen, fund, filed):
    holder = citizen()
    posting = fund("elderly", "allowance", holder, 30_000)
    answer, _ = filed({"subject": "receipt", "entry_id": posting.entry_id}, holder=holder)
    assert answer.status_code == 200, answer.json
    assert (answer.json["appeal"]["subject"], answer.json["appeal"]["entry_id"]) == (
        "receipt", posting.entry_id)


def test_someone_elses_receipt_is_refused_like_one_that_does_not_exist(citizen, fund, filed):
    posting = fund("elderly", "allowance", citizen(), 30_000)
    answer, _ = filed({"subject": "receipt", "entry_id": posting.entry_id})
    assert (answer.status_code, _reason(answer)) == (422, Reason.GRIEVANCE_SUBJECT_INVALID)
    missing, _ = filed({"subject": "receipt", "entry_id": 10**12})
    assert _reason(missing) == Reason.GRIEVANCE_SUBJECT_INVALID


def test_a_receipt_of_the_citizens_household_purse_is_their_own(citizen, household, fund,
                                                                 filed):
    member = citizen()
    home = household(members=[(member, "child")])
    posting = fund("food", "groceries", home, 100_000)
    answer, _ = filed({"subject": "receipt", "entry_id": posting.entry_id}, holder=member)
    assert answer.status_code == 200, answer.json
    assert answer.json["already_open"] is False


def test_words_longer_than_the_limit_are_refused(filed):
    answer, _ = filed(words="x" * 501)
    assert (answer.status_code, _reason(answer)) == (400, Reason.VALIDATION_FAILED)


def test_the_queue_shows_no_name_and_the_earliest_due_first(client, filed, clerks):
    first, _ = filed()
    second, _ = filed()
    items = client.get(W, headers=bearer(clerks[0].token)).json["items"]
    ids = [item["id"] for item in items]
    assert ids.index(first.json["appeal"]["id"]) < ids.index(second.json["appeal"]["id"])
    assert not {"full_name", "words", "citizen_id"} & set(items[0])


def test_an_overdue_appeal_is_marked_and_leads_the_queue(app, client, filed, clerks):
    from backend.db import session
    from backend.grievances.models import Grievance

    fresh, _ = filed()
    old, _ = filed()
    row = session().get(Grievance, old.json["appeal"]["id"])
    row.due_on = dt.date.today() - dt.timedelta(days=3)
    session().commit()
    items = client.get(W, headers=bearer(clerks[0].token)).json["items"]
    assert items[0]["id"] == old.json["appeal"]["id"] and items[0]["overdue"] is True
    assert next(i for i in items if i["id"] == fresh.json["appeal"]["id"])["overdue"] is False


def test_opening_an_appeal_is_a_recorded_read_of_the_citizens_data(client, filed, clerks,
                                                                    audit_log):
    answer, _ = filed(words="I am 70 years old")
    appeal_id = answer.json["appeal"]["id"]
    shown = client.get(f"{W}/{appeal_id}", headers=bearer(clerks[0].token))
    assert shown.json["words"] == "I am 70 years old"
    reads = audit_log(action="grievance.read")
    assert [(r["actor"], r["subject_id"]) for r in reads] == [(clerks[0].username,
                                                               str(appeal_id))]


def test_a_clerk_takes_and_resolves_an_appeal_and_the_citizen_reads_the_reason(
        client, filed, clerks, audit_log):
    answer, token = filed()
    appeal_id = answer.json["appeal"]["id"]
    clerk = bearer(clerks[0].token)
    taken = client.post(f"{W}/{appeal_id}/assign", json={}, headers=clerk)
    assert (taken.json["status"], taken.json["assignee"]) == ("assigned", clerks[0].username)
    done = client.post(f"{W}/{appeal_id}/resolve", headers=clerk, json={
        "outcome": "upheld", "reason": "Your age was wrong in the registry; it is fixed."})
    assert done.status_code == 200, done.json
    mine = client.get(f"{W}/mine", headers=bearer(token)).json["items"]
    assert [(m["status"], m["outcome"], m["resolution"]) for m in mine] == [
        ("resolved", "upheld", "Your age was wrong in the registry; it is fixed.")]
    assert "assignee" not in mine[0]
    steps = [r["action"] for r in audit_log(subject_type="grievance")
             if r["action"] != "grievance.read"]
    assert steps == ["grievance.filed", "grievance.assigned", "grievance.resolved"]


def test_only_the_assignee_resolves(client, filed, clerks):
    answer, _ = filed()
    appeal_id = answer.json["appeal"]["id"]
    client.post(f"{W}/{appeal_id}/assign", json={"to": clerks[1].username},
                headers=bearer(clerks[0].token))
    refused = client.post(f"{W}/{appeal_id}/resolve", headers=bearer(clerks[0].token),
                          json={"outcome": "not_upheld", "reason": "no"})
    assert (refused.status_code, _reason(refused)) == (403, Reason.GRIEVANCE_NOT_ASSIGNEE)


def test_an_unassigned_appeal_is_not_resolved(client, filed, clerks):
    answer, _ = filed()
    refused = client.post(f"{W}/{answer.json['appeal']['id']}/resolve",
                          headers=bearer(clerks[0].token),
                          json={"outcome": "upheld", "reason": "fine"})
    assert _reason(refused) == Reason.GRIEVANCE_NOT_ASSIGNEE


def test_a_resolved_appeal_is_neither_reassigned_nor_resolved_again(client, filed, clerks):
    answer, _ = filed()
    appeal_id = answer.json["appeal"]["id"]
    clerk = bearer(clerks[0].token)
    client.post(f"{W}/{appeal_id}/assign", json={}, headers=clerk)
    client.post(f"{W}/{appeal_id}/resolve", headers=clerk,
                json={"outcome": "not_upheld", "reason": "The rule applies to you."})
    again = client.post(f"{W}/{appeal_id}/assign", json={}, headers=clerk)
    assert (again.status_code, _reason(again)) == (409, Reason.GRIEVANCE_RESOLVED)
    twice = client.post(f"{W}/{appeal_id}/resolve", headers=clerk,
                        json={"outcome": "upheld", "reason": "changed my mind"})
    assert _reason(twice) == Reason.GRIEVANCE_RESOLVED


def test_an_appeal_is_assigned_only_to_an_enabled_clerk(app, client, filed, clerks):
    agent = make_staff(app, "agent")
    answer, _ = filed()
    refused = client.post(f"{W}/{answer.json['appeal']['id']}/assign",
                          json={"to": agent.username}, headers=bearer(clerks[0].token))
    assert (refused.status_code, _reason(refused)) == (422, Reason.GRIEVANCE_ASSIGNEE_INVALID)


def test_an_appeal_is_not_handed_to_an_admin_who_has_no_screen_to_work_it(app, client,
                                                                          filed, clerks):
    admin = make_staff(app, "admin")
    answer, _ = filed()
    refused = client.post(f"{W}/{answer.json['appeal']['id']}/assign",
                          json={"to": admin.username}, headers=bearer(clerks[0].token))
    assert (refused.status_code, _reason(refused)) == (422, Reason.GRIEVANCE_ASSIGNEE_INVALID)


def test_an_admin_hands_an_appeal_to_a_clerk(app, client, filed, clerks):
    admin = make_staff(app, "admin")
    answer, _ = filed()
    handed = client.post(f"{W}/{answer.json['appeal']['id']}/assign",
                         json={"to": clerks[0].username}, headers=bearer(admin.token))
    assert (handed.status_code, handed.json["assignee"]) == (200, clerks[0].username)


def test_after_resolution_the_same_refusal_can_be_appealed_anew(client, filed, clerks):
    answer, token = filed()
    appeal_id = answer.json["appeal"]["id"]
    clerk = bearer(clerks[0].token)
    client.post(f"{W}/{appeal_id}/assign", json={}, headers=clerk)
    client.post(f"{W}/{appeal_id}/resolve", headers=clerk,
                json={"outcome": "not_upheld", "reason": "The rule applies to you."})
    anew = client.post(W, json=refusal(answer.json["appeal"]["refusal"]),
                       headers=bearer(token))
    assert anew.json["already_open"] is False and anew.json["appeal"]["id"] != appeal_id


def test_a_citizen_sees_only_their_own_appeals(client, filed, citizen, card_session):
    filed()
    other = card_session(citizen())
    assert client.get(f"{W}/mine", headers=bearer(other)).json["items"] == []


def test_control_characters_in_the_words_are_refused_not_stored(filed):
    answer, _ = filed(words="bad\x00words")
    assert (answer.status_code, _reason(answer)) == (400, Reason.VALIDATION_FAILED)
