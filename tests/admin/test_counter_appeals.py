"""Appeals at the counter: a clerk files one beside the citizen, and clerks work the
queue (overdue first), take, hand on and answer; the citizen reads it at the kiosk."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from backend.db import session
from backend.grievances.models import Grievance
from tests.admin.conftest import SAME_ORIGIN
from tests.admin.staff_screens import sign_in_on_screens
from tests.backend.grievances.refusals import recorded_refusal  # noqa: F401 (a fixture)


@pytest.fixture
def clerk(app, site):
    return sign_in_on_screens(site, app, "clerk")


@pytest.fixture
def refused(card_session, recorded_refusal):  # noqa: F811
    """`refused(holder)`: the holder refused over the API; the refusal's number."""
    return lambda holder: recorded_refusal(card_session(holder))


def _offered(site) -> list[str]:
    page = site.get("/counter/appeal").get_data(as_text=True)
    return re.findall(r'name="refusal" id="refusal-\d+" value="(\d+)"', page)


def _file_at_counter(site, visit, holder, **form):
    visit(holder, "pin", screen="counter")
    site.post("/counter/purpose", data={"purpose": "appeal"}, headers=SAME_ORIGIN)
    offered = _offered(site)
    data = {"subject": "refusal", "refusal": offered[0] if offered else "", **form}
    return site.post("/counter/appeal", data=data, headers=SAME_ORIGIN)


@pytest.fixture
def holder(citizen, refused):
    """A citizen the city refused an extract of a family card (they are on none)."""
    person = citizen(full_name="Dewi Lestari", language="en")
    refused(person)
    return person


def test_the_counter_offers_the_citizens_recorded_refusals_to_pick_from(
        site, clerk, citizen, refused, visit):
    person = citizen(language="en")
    first, second = refused(person), refused(person)
    visit(person, "pin", screen="counter")
    site.post("/counter/purpose", data={"purpose": "appeal"}, headers=SAME_ORIGIN)
    assert _offered(site) == [str(second), str(first)]


def test_a_refusal_filed_today_is_accepted_whatever_the_hour(site, clerk, holder, visit):
    answer = _file_at_counter(site, visit, holder)
    assert answer.status_code == 303 and "notice=appeal_filed" in answer.headers["Location"]


def test_someone_elses_refusal_is_not_filed_and_the_refusal_is_recorded(
        site, clerk, holder, citizen, refused, visit, audit_log):
    theirs = refused(citizen(language="en"))
    answer = _file_at_counter(site, visit, holder, refusal=str(theirs))
    assert answer.status_code == 400
    assert session().query(Grievance).count() == 0
    [record] = audit_log(action="counter.grievances.file_appeal")
    assert (record["outcome"], record["actor"]) == ("grievance_subject_invalid",
                                                    clerk.username)


def test_the_clerk_hands_appeals_only_to_clerks(app, site, clerk, holder, visit):
    from backend.testing.identity import make_staff

    colleague, admin = make_staff(app, "clerk"), make_staff(app, "admin")
    _file_at_counter(site, visit, holder)
    appeal = session().query(Grievance).one()
    page = site.get(f"/counter/appeals/{appeal.id}").get_data(as_text=True)
    assert colleague.username in page and admin.username not in page


def test_a_clerk_files_an_appeal_beside_the_citizen(site, clerk, holder, visit, audit_log):
    answer = _file_at_counter(site, visit, holder, words="My mother is 71.")
    assert answer.status_code == 303 and "notice=appeal_filed" in answer.headers["Location"]
    row = session().query(Grievance).filter_by(citizen_id=holder.id).one()
    assert (row.channel, row.filed_by, row.words) == ("counter", f"staff:{clerk.username}",
                                                      "My mother is 71.")
    filed = audit_log(action="grievance.filed", citizen_id=holder.id)
    assert [(r["actor"], r["role"]) for r in filed] == [(clerk.username, "clerk")]


def test_a_filing_without_what_it_is_about_is_shown_again_with_the_problem(site, clerk,
                                                                           holder, visit):
    answer = _file_at_counter(site, visit, holder, subject="receipt", entry_id="")
    assert answer.status_code == 400
    assert "error-summary" in answer.get_data(as_text=True)
    assert session().query(Grievance).count() == 0


def test_the_queue_shows_no_name_and_the_overdue_first(app, site, clerk, holder, visit,
                                                       citizen, client, card_session,
                                                       recorded_refusal):  # noqa: F811
    _file_at_counter(site, visit, holder)
    later = session().query(Grievance).one()
    other = citizen(full_name="Agus Salim", language="en")
    token = card_session(other)
    client.post("/api/v1/grievances", headers={"Authorization": f"Bearer {token}"},
                json={"subject": "refusal", "refusal": recorded_refusal(token)})
    late = session().query(Grievance).filter_by(citizen_id=other.id).one()
    late.due_on = dt.date.today() - dt.timedelta(days=2)
    session().commit()
    page = site.get("/counter/appeals").get_data(as_text=True)
    rows = re.findall(r'<tr data-appeal="(\d+)"( class="overdue")?', page)
    assert rows[0] == (str(late.id), ' class="overdue"') and rows[1][0] == str(later.id)
    assert "Dewi Lestari" not in page and "Agus Salim" not in page


def test_opening_taking_and_answering_an_appeal_reaches_the_citizens_kiosk(
        site, clerk, holder, visit, audit_log):
    _file_at_counter(site, visit, holder)
    appeal = session().query(Grievance).one()
    shown = site.get(f"/counter/appeals/{appeal.id}").get_data(as_text=True)
    assert "Dewi Lestari" in shown and 'id="take"' in shown
    assert audit_log(action="grievance.read", citizen_id=holder.id)
    taken = site.post(f"/counter/appeals/{appeal.id}/assign", data={}, headers=SAME_ORIGIN)
    assert "notice=taken" in taken.headers["Location"]
    done = site.post(f"/counter/appeals/{appeal.id}/resolve", headers=SAME_ORIGIN, data={
        "outcome": "upheld", "reason": "Your birth date is corrected; the allowance starts."})
    assert "notice=resolved" in done.headers["Location"]
    visit(holder, "pin", screen="kiosk")
    mine = site.get("/kiosk/appeals").get_data(as_text=True)
    assert "Your birth date is corrected; the allowance starts." in mine
    assert 'data-outcome="upheld"' in mine and clerk.username not in mine
    log = site.get("/kiosk/access-log").get_data(as_text=True)
    assert "handle the citizen&#39;s appeal" in log  # the clerk's look, in "who saw my data"


def test_an_answer_without_a_reason_is_refused_with_the_problem(site, clerk, holder, visit):
    _file_at_counter(site, visit, holder)
    appeal = session().query(Grievance).one()
    site.post(f"/counter/appeals/{appeal.id}/assign", data={}, headers=SAME_ORIGIN)
    answer = site.post(f"/counter/appeals/{appeal.id}/resolve", headers=SAME_ORIGIN,
                       data={"outcome": "upheld", "reason": "  "})
    assert answer.status_code == 400
    session().refresh(appeal)
    assert appeal.status == "assigned"


def test_an_appeal_handed_to_a_colleague_is_not_answered_by_the_one_who_handed_it(
        app, site, clerk, holder, visit):
    from backend.testing.identity import make_staff

    colleague = make_staff(app, "clerk")
    _file_at_counter(site, visit, holder)
    appeal = session().query(Grievance).one()
    handed = site.post(f"/counter/appeals/{appeal.id}/assign",
                       data={"to": colleague.username}, headers=SAME_ORIGIN)
    assert "notice=handed_on" in handed.headers["Location"]
    page = site.get(f"/counter/appeals/{appeal.id}").get_data(as_text=True)
    assert 'id="resolve"' not in page
    refused = site.post(f"/counter/appeals/{appeal.id}/resolve", headers=SAME_ORIGIN,
                        data={"outcome": "upheld", "reason": "ok"})
    assert refused.status_code == 409 and "error-summary" in refused.get_data(as_text=True)
    session().refresh(appeal)
    assert (appeal.status, appeal.assignee) == ("assigned", colleague.username)


def test_an_answer_too_long_is_refused_beside_the_reason(site, clerk, holder, visit):
    from backend.grievances.models import MAX_RESOLUTION

    _file_at_counter(site, visit, holder)
    appeal = session().query(Grievance).one()
    site.post(f"/counter/appeals/{appeal.id}/assign", data={}, headers=SAME_ORIGIN)
    answer = site.post(f"/counter/appeals/{appeal.id}/resolve", headers=SAME_ORIGIN,
                       data={"outcome": "upheld", "reason": "x" * (MAX_RESOLUTION + 1)})
    assert answer.status_code == 400
    assert 'href="#reason"' in answer.get_data(as_text=True)


def test_an_answer_with_control_characters_is_refused_not_a_server_error(site, clerk,
                                                                         holder, visit):
    _file_at_counter(site, visit, holder)
    appeal = session().query(Grievance).one()
    site.post(f"/counter/appeals/{appeal.id}/assign", data={}, headers=SAME_ORIGIN)
    answer = site.post(f"/counter/appeals/{appeal.id}/resolve", headers=SAME_ORIGIN,
                       data={"outcome": "upheld", "reason": "fine\x01"})
    assert answer.status_code == 400
    session().refresh(appeal)
    assert appeal.status == "assigned"
