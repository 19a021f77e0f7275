"""The console's Programmes area on the hub: what runs and with which amounts, turning a
programme off and on (confirmed, direct, as the API), and a new amount or rule, which
becomes a request for a second admin's approval instead of a change."""

from __future__ import annotations

import re

import pytest

from backend.approvals.models import ApprovalRequest
from backend.db import session
from backend.programmes import settings
from tests.admin.conftest import SAME_ORIGIN
from tests.admin.staff_screens import sign_in_on_screens

KEY = "food"
PARAM = "monthly_amount"


@pytest.fixture
def admin(site, app):
    sign_in_on_screens(site, app, "admin")


def _form_key(page: str) -> str:
    return re.search(r'name="once" value="([^"]+)"', page).group(1)


def _now() -> settings.ProgrammeView:
    session().expire_all()
    view = settings.describe(KEY, session())
    session().rollback()
    return view


def _value(name: str = PARAM) -> str:
    return next(p.value for p in _now().parameters if p.name == name)


def _change_form(site) -> tuple[dict[str, str], str]:
    """The change form's values as shown, and its key."""
    page = site.get(f"/console/programmes/{KEY}/change?lang=en").get_data(as_text=True)
    values = dict(re.findall(r'name="(p-[a-z_0-9]+)" type="text" value="([^"]*)"', page))
    return values, _form_key(page)


def test_the_programme_list_shows_each_programme_its_state_and_amounts(site, admin):
    page = site.get("/console/programmes?lang=en").get_data(as_text=True)
    for view in settings.list_programmes(session()):
        assert f'data-programme="{view.key}"' in page
    assert f"{PARAM}</span> = <strong translate=\"no\">{_value()}</strong>" in page


def test_turning_a_programme_off_and_on_is_confirmed_and_direct(site, admin, audit_log):
    assert _now().enabled
    path = f"/console/programmes/{KEY}/turn-off"
    confirm = site.get(path + "?lang=en").get_data(as_text=True)
    assert "What will happen" in confirm and _now().enabled
    off = site.post(path, data={"once": _form_key(confirm)}, headers=SAME_ORIGIN)
    assert off.status_code == 303 and not _now().enabled
    page = site.get(off.headers["Location"] + "&lang=en").get_data(as_text=True)
    assert "The programme is turned off" in page and "data-turn-on" in page
    path = f"/console/programmes/{KEY}/turn-on"
    on = site.post(path, data={"once": _form_key(site.get(path).get_data(as_text=True))},
                   headers=SAME_ORIGIN)
    assert on.status_code == 303 and _now().enabled
    assert len(audit_log(action=settings.KIND, subject_id=KEY)) == 2
    history = site.get(f"/console/programmes/{KEY}?lang=en").get_data(as_text=True)
    assert history.count("data-change-version=") == 2


def test_a_new_amount_becomes_an_approval_request_and_is_not_applied(site, admin):
    before = _value()
    values, key = _change_form(site)
    values[f"p-{PARAM}"] = str(int(before) + 25_000)
    sent = site.post(f"/console/programmes/{KEY}/change",
                     data={**values, "note": "fuel prices rose", "once": key},
                     headers=SAME_ORIGIN)
    assert sent.status_code == 303, sent.get_data(as_text=True)
    assert _value() == before
    session().expire_all()
    [asked] = session().query(ApprovalRequest).filter_by(kind="programme.change").all()
    assert asked.status == "pending" and f'"{PARAM}":"{int(before) + 25_000}"' in asked.payload
    page = site.get(sent.headers["Location"] + "&lang=en").get_data(as_text=True)
    assert "A second administrator must approve this change" in page
    assert f'href="/console/approvals/{asked.id}"' in page


@pytest.mark.parametrize("typed", ["two hundred", "12.5.0", "9" * 300, "-"])
def test_a_malformed_amount_shows_the_error_summary_and_asks_nothing(site, admin, typed):
    values, key = _change_form(site)
    values[f"p-{PARAM}"] = typed
    answer = site.post(f"/console/programmes/{KEY}/change?lang=en",
                       data={**values, "once": key}, headers=SAME_ORIGIN)
    page = answer.get_data(as_text=True)
    assert answer.status_code in (400, 422) and "There is a problem" in page
    assert f'<a href="#p-{PARAM}">' in page and re.search(r"<title>Error:", page)
    session().expire_all()
    assert session().query(ApprovalRequest).count() == 0


def test_an_unknown_programme_is_a_not_found_page(site, admin):
    assert site.get("/console/programmes/no-such-thing").status_code == 404


@pytest.mark.parametrize("role", ["clerk", "auditor"])
def test_programmes_are_for_admins_only(site, app, role):
    sign_in_on_screens(site, app, role)
    for path in ("/console/programmes", f"/console/programmes/{KEY}",
                 f"/console/programmes/{KEY}/change"):
        assert site.get(path).status_code == 403, path
