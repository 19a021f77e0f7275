"""Appeals at the kiosk: from the refusal just shown, from a receipt, and the answer."""

from __future__ import annotations

import re

import pytest

from backend.db import session
from backend.grievances.models import Grievance
from tests.admin.conftest import SAME_ORIGIN


@pytest.fixture
def alone(citizen):
    """A citizen on no family card: the kiosk refuses them a family-card extract."""
    return citizen(language="en")


def _refused(site) -> str:
    answer = site.post("/kiosk/documents/civil_documents/family_card_extract",
                       data={"key": "kiosk-appeal-1"}, headers=SAME_ORIGIN)
    assert answer.status_code == 303
    return answer.headers["Location"]


def _appeal_form(page: str) -> dict[str, str]:
    return dict(re.findall(r'name="(subject|refusal)" value="([^"]*)"', page))


def test_a_refused_document_shows_the_refusal_with_an_appeal_button(site, visit, alone):
    visit(alone, "pin")
    location = _refused(site)
    assert "/kiosk/refused?" in location and "reason=not_eligible" in location
    page = site.get(location).get_data(as_text=True)
    assert "Not part of this programme" in page and 'id="appeal"' in page
    assert "not_eligible" not in re.sub(r"<[^>]*>", "", page)  # no code on screen


def test_the_kiosks_refusal_is_recorded_like_the_apis(site, visit, alone, audit_log):
    visit(alone, "pin")
    _refused(site)
    [record] = audit_log(action="kiosk.services.run_action", citizen_id=alone.id)
    assert record["outcome"] == "not_eligible" and record["actor_kind"] == "card"
    assert '"action_name":"family_card_extract"' in record["details"].replace(" ", "")


def test_the_appeal_names_the_recorded_refusal(site, visit, alone, audit_log):
    visit(alone, "pin")
    fields = _appeal_form(site.get(_refused(site)).get_data(as_text=True))
    [record] = audit_log(action="kiosk.services.run_action", citizen_id=alone.id)
    assert fields == {"subject": "refusal", "refusal": str(record["seq"])}


def test_a_refusal_address_naming_someone_elses_refusal_offers_no_appeal(
        site, visit, alone, citizen, audit_log):
    other = citizen(language="en")
    visit(other, "pin")
    _refused(site)
    [theirs] = audit_log(action="kiosk.services.run_action", citizen_id=other.id)
    visit(alone, "pin")
    page = site.get(f"/kiosk/refused?refusal={theirs['seq']}&reason=not_eligible")
    assert 'id="appeal"' not in page.get_data(as_text=True)
    answer = site.post("/kiosk/appeals", data={"subject": "refusal",
                                               "refusal": str(theirs["seq"])},
                       headers=SAME_ORIGIN)
    assert "problem=grievance_subject_invalid" in answer.headers["Location"]
    assert session().query(Grievance).count() == 0


def test_a_refused_filing_is_recorded(site, visit, alone, audit_log):
    visit(alone, "pin")
    site.post("/kiosk/appeals", data={"subject": "refusal", "refusal": "999999999"},
              headers=SAME_ORIGIN)
    [record] = audit_log(action="kiosk.grievances.file_appeal", citizen_id=alone.id)
    assert record["outcome"] == "grievance_subject_invalid"


def test_the_citizens_words_are_kept(site, visit, alone):
    visit(alone, "pin")
    fields = _appeal_form(site.get(_refused(site)).get_data(as_text=True))
    site.post("/kiosk/appeals", data={**fields, "words": "I live with my mother."},
              headers=SAME_ORIGIN)
    assert session().query(Grievance).one().words == "I live with my mother."


def test_appealing_the_refusal_files_it_and_lists_it_with_its_due_date(site, visit, alone):
    visit(alone, "pin")
    page = site.get(_refused(site)).get_data(as_text=True)
    fields = _appeal_form(page)
    answer = site.post("/kiosk/appeals", data=fields, headers=SAME_ORIGIN)
    assert answer.status_code == 303 and "notice=filed" in answer.headers["Location"]
    row = session().query(Grievance).filter_by(citizen_id=alone.id).one()
    assert (row.channel, row.refusal_reason, row.refusal_programme, row.refusal_action) == (
        "kiosk", "not_eligible", "civil_documents", "family_card_extract")
    listing = site.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Your appeal is sent" in listing and "data-due" in listing


def test_appealing_the_same_refusal_twice_says_it_is_waiting(site, visit, alone):
    visit(alone, "pin")
    page = site.get(_refused(site)).get_data(as_text=True)
    fields = _appeal_form(page)
    site.post("/kiosk/appeals", data=fields, headers=SAME_ORIGIN)
    again = site.post("/kiosk/appeals", data=fields, headers=SAME_ORIGIN)
    assert "notice=already_open" in again.headers["Location"]
    assert session().query(Grievance).filter_by(citizen_id=alone.id).count() == 1


def test_a_receipt_in_the_latest_transactions_can_be_appealed(site, visit, citizen, fund):
    holder = citizen(language="en", birth_date=__import__("datetime").date(1950, 1, 1))
    posting = fund("elderly", "allowance", holder, 40_000)
    visit(holder, "pin")
    home = site.get("/kiosk/home").get_data(as_text=True)
    assert f'data-appeal-receipt="{posting.entry_id}"' in home
    answer = site.post("/kiosk/appeals", data={"subject": "receipt",
                                               "entry_id": str(posting.entry_id)},
                       headers=SAME_ORIGIN)
    assert "notice=filed" in answer.headers["Location"]


def test_an_appeal_needs_the_pin(site, visit, citizen, fund):
    holder = citizen(language="en", birth_date=__import__("datetime").date(1950, 1, 1))
    posting = fund("elderly", "allowance", holder, 40_000)
    visit(holder, "tap")
    answer = site.post("/kiosk/appeals", data={"subject": "receipt",
                                               "entry_id": str(posting.entry_id)},
                       headers=SAME_ORIGIN)
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/kiosk/")
    assert session().query(Grievance).count() == 0


def test_a_refusal_never_recorded_is_refused_in_plain_words(site, visit, alone):
    visit(alone, "pin")
    answer = site.post("/kiosk/appeals", data={"subject": "refusal", "refusal": "999999999"},
                       headers=SAME_ORIGIN)
    page = site.get(answer.headers["Location"]).get_data(as_text=True)
    assert "This cannot be appealed here" in page
