"""The console's Approvals area: stopping many cards (the count typed to confirm), two
admins for more than the threshold, and the page showing only what the service allows."""

from __future__ import annotations

import io
import re
import secrets

import pytest
from flask import g
from sqlalchemy import select

from backend.approvals.models import ApprovalRequest
from backend.bulk.models import BulkJob
from backend.cards.models import Card
from backend.db import session
from tests.admin.conftest import SAME_ORIGIN
from tests.admin.staff_screens import sign_in_on_screens
from tests.backend.approvals.conftest import insert_cards

STOP = "/console/approvals/stop-cards"


def form_key(page: str) -> str:
    return re.search(r'name="once" value="([^"]+)"', page).group(1)


@pytest.fixture
def cards(app, card_ca):
    """`cards(n)` -> serials of n fresh working cards (committed)."""
    def make(count: int) -> list[str]:
        serials = insert_cards(session().connection(), count)
        session().commit()
        return serials
    return make


@pytest.fixture
def queue(app):
    """Jobs are sent to an in-memory broker, as the API's tests do."""
    from backend.tasks import celery_init_app

    app.config.update(BROKER_URL="memory://", RESULT_BACKEND="cache+memory://")
    celery_init_app(app)


def check(site, serials, reason="keyCompromise", note="reported stolen"):
    return site.post(STOP + "?lang=en", data={"serials": "\n".join(serials), "reason": reason,
                                              "note": note, "step": "check"},
                     headers=SAME_ORIGIN)


def stop_cards(site, serials, count=None, reason="keyCompromise", note="reported stolen"):
    """The whole form: the serials, then the confirmation with the count typed."""
    page = check(site, serials, reason, note).get_data(as_text=True)
    typed = str(len(serials)) if count is None else count
    return site.post(STOP + "?lang=en", data={
        "serials": "\n".join(serials), "reason": reason, "note": note, "step": "do",
        "count": typed, "once": form_key(page)}, headers=SAME_ORIGIN)


def statuses(serials):
    session().expire_all()
    return {card.serial: card.status for card in session().execute(
        select(Card).where(Card.serial.in_(serials))).scalars()}


def second_admin(app, site):
    """Another browser (the site's own client class), where a second admin signs in. The
    tests' app context outlives a request, so the first admin it remembers is forgotten."""
    g.pop("staff", None)
    g.pop("principal", None)
    other = app.test_client()
    sign_in_on_screens(other, app, "admin")
    return other


def request_of(location: str) -> int:
    return int(re.search(r"/console/approvals/(\d+)", location).group(1))


@pytest.fixture
def asked(app, site, cards):
    """A pending request to stop one card more than the threshold, asked by a first admin
    on this browser: (its id, the serials, the maker)."""
    maker = sign_in_on_screens(site, app, "admin")
    serials = cards(app.config["APPROVAL_REVOKE_THRESHOLD"] + 1)
    answer = stop_cards(site, serials)
    assert answer.status_code == 303, answer.get_data(as_text=True)
    return request_of(answer.headers["Location"]), serials, maker


def test_more_cards_than_the_threshold_become_a_request_that_needs_a_second_admin(
        site, asked):
    request_id, serials, _maker = asked
    page = site.get(f"/console/approvals/{request_id}?lang=en&done=asked")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "data-needs-second" in text and "needs a second person" in text
    assert f'<dd data-count>{len(serials)}</dd>' in text and serials[0] in text
    assert set(statuses(serials).values()) == {"active"}


def test_the_maker_sees_no_approve_button_and_a_forged_approval_is_refused(site, asked):
    request_id, serials, _maker = asked
    text = site.get(f"/console/approvals/{request_id}?lang=en").get_data(as_text=True)
    assert "data-approve" not in text and "data-reject" not in text
    assert "data-cannot-decide" in text and "a second administrator must approve" in text
    forged = site.post(f"/console/approvals/{request_id}/approve?lang=en",
                       data={"comment": "", "once": secrets.token_urlsafe(24)},
                       headers=SAME_ORIGIN)
    refused = forged.get_data(as_text=True)
    assert forged.status_code == 403
    assert 'class="error-summary"' in refused and "a second administrator must" in refused
    session().expire_all()
    assert session().get(ApprovalRequest, request_id).status == "pending"
    assert set(statuses(serials).values()) == {"active"}


def test_a_second_admin_approves_and_the_revocation_is_queued_as_a_job(
        app, site, asked, queue):
    request_id, serials, _maker = asked
    site = second_admin(app, site)
    text = site.get(f"/console/approvals/{request_id}?lang=en").get_data(as_text=True)
    assert "data-approve" in text and "data-cannot-decide" not in text
    answer = site.post(f"/console/approvals/{request_id}/approve",
                       data={"comment": "checked the list", "once": form_key(text)},
                       headers=SAME_ORIGIN)
    assert answer.status_code == 303
    session().expire_all()
    assert session().get(ApprovalRequest, request_id).status == "carried_out"
    job = session().execute(select(BulkJob).where(BulkJob.approval_id == request_id)
                            ).scalar_one()
    assert (job.status, job.total) == ("queued", len(serials))
    shown = site.get(answer.headers["Location"] + "&lang=en").get_data(as_text=True)
    assert f"/console/jobs/{job.id}" in shown and "checked the list" in shown


def test_a_rejection_needs_a_comment(app, site, asked):
    request_id, _serials, _maker = asked
    site = second_admin(app, site)
    text = site.get(f"/console/approvals/{request_id}?lang=en").get_data(as_text=True)
    empty = site.post(f"/console/approvals/{request_id}/reject?lang=en",
                      data={"comment": "  ", "once": form_key(text)}, headers=SAME_ORIGIN)
    page = empty.get_data(as_text=True)
    assert empty.status_code == 422
    assert 'class="error-summary"' in page and '<a href="#comment">' in page
    session().expire_all()
    assert session().get(ApprovalRequest, request_id).status == "pending"
    done = site.post(f"/console/approvals/{request_id}/reject",
                     data={"comment": "not these cards", "once": form_key(page)},
                     headers=SAME_ORIGIN)
    assert done.status_code == 303
    session().expire_all()
    assert session().get(ApprovalRequest, request_id).status == "rejected"


def test_the_maker_withdraws_their_pending_request_after_a_confirmation(site, asked):
    request_id, _serials, _maker = asked
    text = site.get(f"/console/approvals/{request_id}?lang=en").get_data(as_text=True)
    assert "data-withdraw" in text
    confirm = site.get(f"/console/approvals/{request_id}/cancel?lang=en")
    assert confirm.status_code == 200 and "What will happen" in confirm.get_data(as_text=True)
    done = site.post(f"/console/approvals/{request_id}/cancel",
                     data={"once": form_key(confirm.get_data(as_text=True))},
                     headers=SAME_ORIGIN)
    assert done.status_code == 303
    session().expire_all()
    assert session().get(ApprovalRequest, request_id).status == "cancelled"


def test_below_the_threshold_the_cards_are_stopped_without_approval(app, site, cards):
    sign_in_on_screens(site, app, "admin")
    serials = cards(2)
    answer = stop_cards(site, serials)
    assert answer.status_code == 303 and "/console/jobs/" in answer.headers["Location"]
    assert statuses(serials) == dict.fromkeys(serials, "revoked")
    assert session().execute(select(ApprovalRequest)).scalars().all() == []


def test_a_count_that_does_not_match_shows_the_error_summary_and_stops_nothing(
        app, site, cards):
    sign_in_on_screens(site, app, "admin")
    serials = cards(3)
    for typed in ("2", "", "three", "9" * 40):
        answer = stop_cards(site, serials, count=typed)
        page = answer.get_data(as_text=True)
        assert answer.status_code == 400, typed
        assert 'class="error-summary"' in page and '<a href="#count">' in page
        assert re.search(r"<title>Error:", page)
    assert set(statuses(serials).values()) == {"active"}


def test_lines_that_are_not_serials_are_named_in_the_error_summary(app, site):
    sign_in_on_screens(site, app, "admin")
    answer = check(site, ["7K3M-Q9XP-2HDA", "not a serial!", ""], reason="nonsense")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert '<a href="#serials">' in page and '<a href="#reason">' in page
    assert "not a card serial: 2" in page


def test_a_file_of_serials_is_read_like_the_box(app, site, cards):
    sign_in_on_screens(site, app, "admin")
    serials = cards(2)
    upload = io.BytesIO(("serial\r\n" + "\r\n".join(serials) + "\r\n").encode())
    answer = site.post(STOP + "?lang=en", data={
        "serials": "", "reason": "keyCompromise", "step": "check",
        "file": (upload, "stolen.csv")}, headers=SAME_ORIGIN,
        content_type="multipart/form-data")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "<dd data-count>2</dd>" in page
    assert all(serial in page for serial in serials)


def test_an_unknown_request_is_the_not_found_page(app, site):
    sign_in_on_screens(site, app, "admin")
    for request_id in ("999999", "9" * 30):
        assert site.get(f"/console/approvals/{request_id}").status_code == 404
        assert site.post(f"/console/approvals/{request_id}/approve",
                         data={"once": secrets.token_urlsafe(24)},
                         headers=SAME_ORIGIN).status_code == 404
