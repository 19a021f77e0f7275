"""The console's Issuance area on the hub: an admin asks an enrolment desk for a card,
follows the desk's steps on the job's page, cancels or starts it again; only a desk
that is turned on is offered, and a forged form naming another terminal is refused."""

from __future__ import annotations

import base64
import re

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from backend.cards.desk_models import IssuanceJob
from backend.db import database, session
from backend.identity import accounts
from backend.testing.identity import bearer
from tests.admin.conftest import SAME_ORIGIN
from tests.admin.staff_screens import sign_in_on_screens

NEW = "/console/issuance/new"


@pytest.fixture
def admin(site, app):
    sign_in_on_screens(site, app, "admin")


@pytest.fixture
def desk_terminal(terminal):
    return terminal("desk", name="Kelurahan Sukamaju desk")


def _form_key(page: str) -> str:
    return re.search(r'name="once" value="([^"]+)"', page).group(1)


def _jobs_of(person) -> list[IssuanceJob]:
    session().expire_all()
    return list(session().query(IssuanceJob).filter_by(citizen_id=person.id))


def _start(site, person, desk_id: str):
    """The form, its confirmation, then the start: the answer to the last POST."""
    check = site.post(NEW + "?lang=en", data={"step": "check", "number": person.national_number,
                                              "desk": desk_id}, headers=SAME_ORIGIN)
    assert check.status_code == 200, check.get_data(as_text=True)
    page = check.get_data(as_text=True)
    return site.post(NEW, data={"step": "do", "number": person.national_number,
                                "desk": desk_id, "once": _form_key(page)}, headers=SAME_ORIGIN)


def _started(site, person, desk_id: str) -> int:
    answer = _start(site, person, desk_id)
    assert answer.status_code == 303, answer.get_data(as_text=True)
    return int(re.search(r"/console/issuance/(\d+)", answer.headers["Location"]).group(1))


def test_an_admin_starts_an_issuance_job_for_a_citizen_at_a_desk(site, admin, citizen,
                                                                desk_terminal, audit_log):
    person = citizen(full_name="Ayu Kartika")
    form = site.get(NEW + "?lang=en").get_data(as_text=True)
    assert desk_terminal.terminal_id in form
    check = site.post(NEW + "?lang=en", data={"step": "check", "number": person.national_number,
                                              "desk": desk_terminal.terminal_id},
                      headers=SAME_ORIGIN)
    assert "Ayu Kartika" in check.get_data(as_text=True) and "What will happen" in \
        check.get_data(as_text=True)
    assert _jobs_of(person) == []
    job_id = _started(site, person, desk_terminal.terminal_id)
    [job] = _jobs_of(person)
    assert (job.id, job.status, job.desk_id) == (job_id, "requested",
                                                 desk_terminal.terminal_id)
    assert audit_log(action="issuance.start")[-1]["actor_kind"] == "staff"
    listed = site.get("/console/issuance?lang=en").get_data(as_text=True)
    assert f'data-issuance-job="{job_id}"' in listed and "Ayu Kartika" in listed


def test_a_citizens_record_links_to_issuing_a_card_with_their_number(site, admin, citizen,
                                                                    audit_log):
    person = citizen()
    site.post(f"/console/citizens/{person.id}/purpose",
              data={"purpose": "card", "next": f"/console/citizens/{person.id}"},
              headers=SAME_ORIGIN)
    record = site.get(f"/console/citizens/{person.id}").get_data(as_text=True)
    link = re.search(r'href="([^"]+)" data-issue-card', record).group(1).replace("&amp;", "&")
    form = site.get(link).get_data(as_text=True)
    assert f'value="{person.national_number}"' in form
    reads = audit_log(citizen_id=person.id, action="citizen.data.read")
    assert reads[-1]["purpose"] == "issuing, replacing or stopping the citizen's card"


def test_a_turned_off_desk_or_another_kind_of_terminal_is_not_offered_and_a_forged_post_is_refused(
        site, admin, app, citizen, terminal, desk_terminal):
    kiosk = terminal("kiosk")
    off = terminal("desk", name="Closed desk")
    with app.app_context(), database().transaction() as tx:
        accounts.set_terminal_enabled(tx, off.terminal_id, False)
    person = citizen()
    form = site.get(NEW + "?lang=en").get_data(as_text=True)
    assert desk_terminal.terminal_id in form
    assert kiosk.terminal_id not in form and off.terminal_id not in form
    for forged in (kiosk.terminal_id, off.terminal_id):
        answer = site.post(NEW + "?lang=en", data={
            "step": "do", "number": person.national_number, "desk": forged,
            "once": "forged-key-000000000000000000"}, headers=SAME_ORIGIN)
        page = answer.get_data(as_text=True)
        assert answer.status_code == 400 and "There is a problem" in page
        assert '<a href="#desk">' in page
    assert _jobs_of(person) == []


def test_an_unknown_national_number_shows_the_error_summary(site, admin, desk_terminal):
    answer = site.post(NEW + "?lang=en", data={"step": "check", "number": "9999999999999999",
                                               "desk": desk_terminal.terminal_id},
                       headers=SAME_ORIGIN)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400 and '<a href="#number">' in page
    assert re.search(r"<title>Error:", page)


def _spki(key: ec.EllipticCurvePrivateKey) -> str:
    return base64.b64encode(key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()


def test_a_job_page_shows_the_desks_steps_as_it_does_them(site, admin, citizen, client,
                                                         desk_terminal, card_ca):
    person = citizen(full_name="Bayu Pratama")
    job_id = _started(site, person, desk_terminal.terminal_id)
    path = f"/console/issuance/{job_id}"
    waiting = site.get(path + "?lang=en").get_data(as_text=True)
    assert "Bayu Pratama" in waiting and "Waiting for a blank card" in waiting
    assert f'hx-get="/console/issuance/{job_id}/progress?shown=requested' in waiting
    answer = client.post("/api/v1/desk/jobs/claim", headers=bearer(desk_terminal.token))
    assert answer.status_code == 200, answer.json
    claimed = answer.json["job"]
    polled = site.get(f"{path}/progress", query_string={"shown": "requested", "attempt": 0})
    assert polled.headers.get("HX-Refresh") == "true"  # the state changed: reload the page
    keys = {ref: _spki(ec.generate_private_key(ec.SECP256R1())) for ref in ("9A", "9E")}
    client.post(f"/api/v1/desk/jobs/{job_id}/certify", headers=bearer(desk_terminal.token),
                json={"card_uuid": claimed["card_uuid"], "public_keys": keys})
    half = site.get(path + "?lang=en").get_data(as_text=True)
    assert "Keys certified" in half and "data-half-finished" in half and "data-retry" in half
    assert claimed["serial"] in half
    client.post(f"/api/v1/desk/jobs/{job_id}/activate", headers=bearer(desk_terminal.token),
                json={"card_uuid": claimed["card_uuid"]})
    done = site.get(path + "?lang=en").get_data(as_text=True)
    assert "Made: the card works" in done and "hx-get" not in done
    assert "data-cancel" not in done and "data-card-link" in done


def test_cancelling_a_job_is_confirmed_first_and_ends_it(site, admin, citizen,
                                                         desk_terminal, audit_log):
    person = citizen()
    job_id = _started(site, person, desk_terminal.terminal_id)
    path = f"/console/issuance/{job_id}/cancel"
    confirm = site.get(path + "?lang=en").get_data(as_text=True)
    assert "What will happen" in confirm and _jobs_of(person)[0].status == "requested"
    done = site.post(path, data={"once": _form_key(confirm)}, headers=SAME_ORIGIN)
    assert done.status_code == 303
    assert _jobs_of(person)[0].status == "cancelled"
    assert len(audit_log(action="issuance.cancel", subject_id=str(job_id))) == 1
    again = site.post(path + "?lang=en", data={"once": _form_key(confirm) + "x"},
                      headers=SAME_ORIGIN)
    assert again.status_code == 409 and "There is a problem" in again.get_data(as_text=True)


def test_a_half_finished_job_is_started_again_for_the_desks_next_blank_card(
        site, admin, citizen, client, desk_terminal, card_ca, audit_log):
    person = citizen()
    job_id = _started(site, person, desk_terminal.terminal_id)
    client.post("/api/v1/desk/jobs/claim", headers=bearer(desk_terminal.token))
    path = f"/console/issuance/{job_id}/retry"
    confirm = site.get(path + "?lang=en").get_data(as_text=True)
    done = site.post(path, data={"once": _form_key(confirm)}, headers=SAME_ORIGIN)
    assert done.status_code == 303
    assert _jobs_of(person)[0].status == "failed"  # given up: the desk's next claim takes it
    assert len(audit_log(action="issuance.resume", subject_id=str(job_id))) == 1
    again = client.post("/api/v1/desk/jobs/claim", headers=bearer(desk_terminal.token))
    assert again.json["job"]["job_id"] == job_id and again.json["job"]["attempt"] == 2


def test_a_second_card_for_someone_with_one_being_made_links_to_it(site, admin, citizen,
                                                                   desk_terminal):
    person = citizen()
    job_id = _started(site, person, desk_terminal.terminal_id)
    refused = _start(site, person, desk_terminal.terminal_id)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 409 and "There is a problem" in page
    assert f'href="/console/issuance/{job_id}"' in page


@pytest.mark.parametrize("role", ["clerk", "auditor"])
def test_issuance_is_for_admins_only(site, app, role):
    sign_in_on_screens(site, app, role)
    for path in ("/console/issuance", NEW, "/console/issuance/1"):
        assert site.get(path).status_code == 403, path


def test_a_first_card_says_nothing_of_a_current_card(site, admin, citizen, desk_terminal):
    person = citizen(full_name="Nur Aini")
    job_id = _started(site, person, desk_terminal.terminal_id)
    page = site.get(f"/console/issuance/{job_id}?lang=en").get_data(as_text=True)
    assert "Nur Aini" in page and "The current card" not in page
