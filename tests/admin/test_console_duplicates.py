"""The console's possible duplicates: a clerk (or an admin) sees the open pairs side by
side with what matched, decides one, and both the reads and the decision are audited."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from backend.db import session
from backend.registry.dedup import review
from backend.registry.dedup.models import DuplicateCandidate
from backend.registry.models import Citizen
from tests.admin.conftest import SAME_ORIGIN
from tests.admin.staff_screens import sign_in_on_screens
from tests.backend.registry.conftest import audit_records

QUEUE = "/console/duplicates"
BORN = dt.date(1984, 3, 21)


@pytest.fixture
def pair(citizen):
    """A look-alike registered after the first, flagged by the registration's check."""
    first = citizen(full_name="Budi Hartono Siregar", sex="M", birth_date=BORN,
                    address="Jl. Kenanga 12")
    second = citizen(full_name="Siregar Budi Hartono", sex="M", birth_date=BORN)
    [row] = review.check_citizen(session(), session().get(Citizen, second.id))
    session().commit()
    return first, second, row


def form_key(page: str) -> str:
    return re.search(r'name="once" value="([^"]+)"', page).group(1)


def decide(site, row, decision, page=None):
    page = page or site.get(QUEUE + "?lang=en").get_data(as_text=True)
    return site.post(f"{QUEUE}/{row.id}/decision?lang=en", headers=SAME_ORIGIN,
                     data={"decision": decision, "note": "", "once": form_key(page)})


def test_a_clerk_sees_the_pair_side_by_side_with_what_matched(site, app, pair):
    first, second, row = pair
    sign_in_on_screens(site, app, "clerk")
    page = site.get(QUEUE + "?lang=en").get_data(as_text=True)
    assert f'data-pair="{row.id}"' in page
    assert first.full_name in page and second.full_name in page
    assert first.national_number in page and "Same date of birth" in page
    assert first.address not in page


def test_each_person_shown_is_recorded_as_read_for_the_review(site, app, pair):
    first, second, _row = pair
    sign_in_on_screens(site, app, "clerk")
    site.get(QUEUE + "?lang=en")
    for person in (first, second):
        [read] = [r for r in audit_records(citizen_id=person.id) if r.action.endswith(".read")]
        assert read.purpose == "review possible duplicate registrations"


def test_a_clerk_decides_same_person_and_the_decision_is_audited(site, app, pair):
    first, second, row = pair
    clerk = sign_in_on_screens(site, app, "clerk")
    answer = decide(site, row, "same_person")
    assert answer.status_code == 303 and "done=same_person" in answer.headers["Location"]
    session().expire_all()
    assert review.duplicate_of(session(), second.id) == first.id
    assert session().get(DuplicateCandidate, row.id).decided_by == clerk.username
    assert audit_records("registry.duplicate.decide", citizen_id=second.id)
    after = site.get(answer.headers["Location"]).get_data(as_text=True)
    assert "No pair is waiting" in after and "Recorded: one person" in after


def test_a_decision_not_chosen_is_asked_for_and_nothing_changes(site, app, pair):
    _first, _second, row = pair
    sign_in_on_screens(site, app, "clerk")
    answer = decide(site, row, "")
    assert answer.status_code == 400
    assert "Choose whether the two records are one person" in answer.get_data(as_text=True)
    session().expire_all()
    assert session().get(DuplicateCandidate, row.id).status == "open"


def test_a_pair_decided_meanwhile_is_refused_in_words(site, app, pair):
    _first, _second, row = pair
    sign_in_on_screens(site, app, "clerk")
    page = site.get(QUEUE + "?lang=en").get_data(as_text=True)
    review.decide(session(), row.id, "different_people", "another-clerk", None)
    session().commit()
    answer = decide(site, row, "same_person", page)
    assert answer.status_code == 409
    assert "Someone has already decided this pair" in answer.get_data(as_text=True)


def test_an_admin_may_decide_too(site, app, pair):
    sign_in_on_screens(site, app, "admin")
    assert decide(site, pair[2], "different_people").status_code == 303


@pytest.mark.parametrize("role", ["auditor", "agent"])
def test_other_roles_may_not_open_the_queue(site, app, pair, role):
    sign_in_on_screens(site, app, role)
    assert site.get(QUEUE + "?lang=en").status_code == 403


def test_a_clerk_opens_no_other_console_page(site, app):
    sign_in_on_screens(site, app, "clerk")
    assert site.get("/console/?lang=en").status_code == 403
    assert site.get("/console/citizens?lang=en").status_code == 403


def test_a_clerk_gets_the_consoles_stylesheet(site, app):
    sign_in_on_screens(site, app, "clerk")
    assert site.get("/console/static/console/console.css").status_code == 200
