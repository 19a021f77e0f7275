"""A clerk decides a pair of possible duplicates in a real browser against the real stack:
a look-alike of a registered person is registered through the API (the registration's
check puts the pair in the queue), the clerk opens "Possible duplicates" from the staff
bar, compares the two records side by side, says they are one person, and the decision
is in the registry and the audit log. The queue passes axe in every language
(screenshots test-output/screens/console-duplicates-*)."""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.request
from typing import Any

import pytest

from backend.registry.national_ids import make_nik
from tests.browser.conftest import shoot
from tests.browser.staff import sign_in, staff_account
from tests.browser.test_console import _walk

pytestmark = [pytest.mark.pcsc, pytest.mark.slow, pytest.mark.xdist_group("browser")]


@pytest.fixture(scope="module")
def clerk(stack: Any) -> tuple[str, str]:
    return staff_account(stack, "dedup", "clerk", "Duplicates test clerk")


def _api(stack: Any, method: str, path: str, body: Any = None, token: str | None = None
         ) -> Any:
    sent = urllib.request.Request(
        f"{stack.origin}/api/v1{path}", method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json",
                 **({"Authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(sent, timeout=10) as answer:
        return json.load(answer)


def _look_alike(stack: Any, nth: int) -> dict[str, Any]:
    """The `nth` living adult of the stack's city (not the card holder), registered again
    by an admin under the name in the other order (another national number): the pair
    the registration's check queued."""
    person_id, name, born, sex, region = stack.sql(
        "SELECT id, full_name, birth_date, sex, region_code FROM citizens WHERE "
        "died_on IS NULL AND id <> ? AND full_name LIKE '% %' AND "
        "birth_date <= '2000-01-01' ORDER BY id LIMIT 1 OFFSET ?", stack.citizen["id"],
        nth)[0]
    token = _api(stack, "POST", "/auth/staff/login", {
        "username": "admin", "password": stack.setup["admin_password"]})["access_token"]
    swapped = " ".join(reversed(name.split()))
    new = _api(stack, "POST", "/citizens", {
        "national_number": make_nik(region, dt.date.fromisoformat(born), sex, 9876 - nth),
        "full_name": swapped, "birth_date": born, "sex": sex, "address": "Jl. Mawar 3",
        "region_code": region, "language": "id"}, token)
    assert new["pending_review"] is True
    [(pair_id,)] = stack.sql("SELECT id FROM duplicate_candidates WHERE new_citizen_id = ? "
                             "AND existing_citizen_id = ?", new["id"], person_id)
    return {"pair": pair_id, "new": new["id"], "existing": person_id, "name": swapped}


@pytest.fixture(scope="module")
def look_alike(stack: Any) -> dict[str, Any]:
    return _look_alike(stack, 0)


def test_a_clerk_decides_that_a_pair_is_one_person(staff_page, stack, clerk, look_alike):
    page = staff_page
    sign_in(page, stack, clerk, landing=None)
    page.click(".staff-nav >> text=Possible duplicates")
    page.wait_for_url(re.compile(r"/console/duplicates"))
    pair = page.locator(f"[data-pair='{look_alike['pair']}']")
    assert pair.locator("[data-new-name]").inner_text() == look_alike["name"]
    assert "Same date of birth" in pair.inner_text()
    shoot(page, "console-duplicates-flow-1-queue")
    pair.get_by_label("Same person: the newer record is a second registration").check()
    pair.locator("textarea[name=note]").fill("same mother's name on the family card")
    pair.locator("button[data-decide]").click()
    page.wait_for_url(re.compile(r"done=same_person"))
    assert "Recorded: one person" in page.inner_text("[role=status]")
    assert page.locator(f"[data-pair='{look_alike['pair']}']").count() == 0
    shoot(page, "console-duplicates-flow-2-decided")
    [(status, by)] = stack.sql("SELECT status, decided_by FROM duplicate_candidates "
                               "WHERE id = ?", look_alike["pair"])
    assert (status, by) == ("same_person", clerk[0])
    assert stack.sql("SELECT actor FROM audit_records WHERE action = "
                     "'registry.duplicate.decide' AND subject_id = ?",
                     str(look_alike["pair"])) == [(clerk[0],)]


def test_the_queue_passes_axe_in_every_language(staff_page, stack, clerk):
    _look_alike(stack, 1)  # a pair on the page, whatever the other test decided
    page = staff_page
    sign_in(page, stack, clerk, landing=None)
    problems = _walk(page, [("duplicates", lambda lang: page.goto(
        f"{stack.origin}/console/duplicates?lang={lang}"))])
    assert not problems, problems
