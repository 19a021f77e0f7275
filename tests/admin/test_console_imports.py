"""The console's registry import: a CSV an admin uploads becomes a request a second admin
must approve (always); nothing is imported before, and a refused file is never stored."""

from __future__ import annotations

import hashlib
import io
import re

import pytest
from sqlalchemy import func, select

from backend.approvals import service
from backend.approvals.models import ApprovalRequest
from backend.bulk import registry_import
from backend.bulk.models import BulkJob
from backend.db import session
from backend.registry import synth
from backend.registry.models import Citizen
from tests.admin.conftest import SAME_ORIGIN
from tests.admin.staff_screens import sign_in_on_screens
from tests.admin.test_console_approvals import form_key, queue, request_of, second_admin  # noqa: F401

IMPORT = "/console/approvals/import-registry"


@pytest.fixture
def registry_csv(tmp_path) -> bytes:
    """A valid registry file (backend.registry.csvformat) of five synthetic people."""
    path = tmp_path / "kota.csv"
    synth.write_file(path, 5, seed=11)
    return path.read_bytes()


@pytest.fixture
def maker(app, site):
    return sign_in_on_screens(site, app, "admin")


def upload(site, data: bytes, name: str = "kota.csv", note: str = "from Dukcapil"):
    return site.post(IMPORT + "?lang=en", data={
        "step": "check", "note": note, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data", headers=SAME_ORIGIN)


def ask(site, data: bytes, name: str = "kota.csv"):
    """The upload, then the confirmation: the answer to the confirming POST."""
    check = upload(site, data, name)
    assert check.status_code == 200, check.get_data(as_text=True)
    page = check.get_data(as_text=True)
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page))
    return site.post(IMPORT, data={**fields, "step": "do", "once": form_key(page)},
                     headers=SAME_ORIGIN)


def requests_of(kind: str = registry_import.KIND) -> list[ApprovalRequest]:
    session().expire_all()
    return list(session().execute(select(ApprovalRequest).where(ApprovalRequest.kind == kind)
                                  ).scalars())


def stored_files() -> list:
    folder = registry_import.files_dir()
    return sorted(folder.glob("*")) if folder.exists() else []


def citizens() -> int:
    return session().execute(select(func.count()).select_from(Citizen)).scalar_one()


@pytest.fixture
def asked(site, maker, registry_csv):
    answer = ask(site, registry_csv)
    assert answer.status_code == 303, answer.get_data(as_text=True)
    return request_of(answer.headers["Location"])


def test_the_confirmation_says_what_will_be_asked(site, maker, registry_csv):
    page = upload(site, registry_csv).get_data(as_text=True)
    digest = hashlib.sha256(registry_csv).hexdigest()
    assert "<dd translate=\"no\" data-name>kota.csv</dd>" in page
    lines = registry_csv.count(b"\n")
    assert f"<dd data-lines>{lines}</dd>" in page
    assert f"{len(registry_csv)} bytes" in page and digest[:16] in page
    assert "This needs a second administrator." in page
    assert requests_of() == []


def test_an_upload_becomes_a_pending_import_request_with_the_files_sha256(
        site, asked, registry_csv):
    [row] = requests_of()
    assert row.id == asked and row.status == "pending" and row.note == "from Dukcapil"
    payload = service.payload_of(row)
    assert payload == {"sha256": hashlib.sha256(registry_csv).hexdigest(), "name": "kota.csv",
                       "bytes": len(registry_csv), "lines": registry_csv.count(b"\n")}
    assert registry_import.stored_path(payload["sha256"]).read_bytes() == registry_csv


def test_nothing_is_imported_before_approval(site, asked):
    assert citizens() == 0
    assert session().execute(select(BulkJob).where(BulkJob.approval_id == asked)
                             ).first() is None


def test_the_request_page_says_a_second_admin_must_approve(site, asked):
    text = site.get(f"/console/approvals/{asked}?lang=en&done=asked").get_data(as_text=True)
    assert "Import a registry file" in text and "data-needs-second" in text


def test_the_maker_sees_no_approve_button(site, asked):
    text = site.get(f"/console/approvals/{asked}?lang=en").get_data(as_text=True)
    assert "data-approve" not in text and "data-reject" not in text
    assert "data-cannot-decide" in text and "a second administrator must approve" in text


def test_the_confirmation_sent_twice_asks_once(site, maker, registry_csv):
    check = upload(site, registry_csv).get_data(as_text=True)
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', check))
    sent = {**fields, "step": "do", "once": form_key(check)}
    first = site.post(IMPORT, data=sent, headers=SAME_ORIGIN)
    again = site.post(IMPORT, data=sent, headers=SAME_ORIGIN)
    assert again.status_code == 303 and again.headers["Location"] == first.headers["Location"]
    assert len(requests_of()) == 1


@pytest.mark.parametrize(("data", "says"), [
    (b"", "The file is empty"),
    ("national_number,full_name\n1,Ani\n".encode("utf-16"), "must be saved as UTF-8"),
])
def test_an_empty_or_non_utf8_file_gets_the_error_summary(site, maker, data, says):
    answer = upload(site, data)
    text = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert 'class="error-summary"' in text and says in text and 'href="#file"' in text
    assert stored_files() == [] and requests_of() == []


def test_no_file_gets_the_error_summary(site, maker):
    answer = site.post(IMPORT + "?lang=en", data={"step": "check", "note": ""},
                       content_type="multipart/form-data", headers=SAME_ORIGIN)
    assert answer.status_code == 400
    assert "Choose the registry file to import" in answer.get_data(as_text=True)


def test_a_file_that_is_not_a_csv_is_refused(site, maker, registry_csv):
    answer = upload(site, registry_csv, name="kota.xlsx")
    assert answer.status_code == 415 and "must be a CSV file" in answer.get_data(as_text=True)
    assert stored_files() == []


def test_a_file_over_the_hubs_limit_gets_the_error_summary(app, site, maker, registry_csv):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    answer = upload(site, registry_csv * 10)
    text = answer.get_data(as_text=True)
    assert answer.status_code == 413
    assert 'class="error-summary"' in text and "The file must be at most" in text
    assert stored_files() == [] and requests_of() == []


def test_a_second_admin_approving_queues_the_import_job(app, site, asked, registry_csv,
                                                        queue):  # noqa: F811
    other = second_admin(app, site)
    text = other.get(f"/console/approvals/{asked}?lang=en").get_data(as_text=True)
    assert "data-approve" in text
    answer = other.post(f"/console/approvals/{asked}/approve",
                        data={"comment": "checked with Dukcapil", "once": form_key(text)},
                        headers=SAME_ORIGIN)
    assert answer.status_code == 303
    session().expire_all()
    assert session().get(ApprovalRequest, asked).status == "carried_out"
    job = session().execute(select(BulkJob).where(BulkJob.approval_id == asked)).scalar_one()
    assert (job.kind, job.status, job.unit, job.total) == (
        registry_import.KIND, "queued", "bytes", len(registry_csv))
    assert citizens() == 0  # the worker imports it, not the approval


def test_the_citizens_and_approvals_pages_link_to_the_import(site, maker):
    for path in ("/console/citizens", "/console/approvals"):
        assert f'href="{IMPORT}"' in site.get(path).get_data(as_text=True)


def test_the_cards_page_links_to_stopping_many_cards(site, maker):
    assert 'href="/console/approvals/stop-cards"' in site.get("/console/cards").get_data(
        as_text=True)
