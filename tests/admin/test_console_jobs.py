"""The console's Jobs area: a job's progress in plain words (followed every two seconds
while it works), its failures as CSV, and stopping and resuming it after a confirmation."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import select

from backend.bulk.models import BulkJob
from backend.db import session
from tests.admin.conftest import SAME_ORIGIN
from tests.admin.staff_screens import sign_in_on_screens
from tests.admin.test_console_approvals import cards, form_key, queue, stop_cards  # noqa: F401

UNKNOWN = "ZZZZ-ZZZZ-ZZZZ"


def job_of(location: str) -> int:
    return int(re.search(r"/console/jobs/(\d+)", location).group(1))


@pytest.fixture
def admin(app, site):
    sign_in_on_screens(site, app, "admin")


@pytest.fixture
def queued(app, site, admin, cards, queue):  # noqa: F811
    """A queued job (the worker never runs in these tests) stopping three cards."""
    from backend.bulk import jobs
    from backend.cards import bulk

    serials = cards(3)
    payload = bulk.normalise({"serials": serials, "reason": "keyCompromise", "note": ""})
    job = jobs.create_job(session(), bulk.KIND, payload, total=3, unit="cards",
                          created_by="someone", send=False)
    session().commit()
    return job.id


def test_a_job_page_shows_its_progress_and_its_failures_download_as_csv(
        site, admin, cards):  # noqa: F811
    serials = cards(2)
    answer = stop_cards(site, [*serials, UNKNOWN])
    job_id = job_of(answer.headers["Location"])
    page = site.get(f"/console/jobs/{job_id}?lang=en").get_data(as_text=True)
    assert "2 of 3 done, 1 failed" in page and "Finished" in page
    assert "hx-trigger" not in page  # a finished job is not followed any more
    download = site.get(f"/console/jobs/{job_id}/failures.csv")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(download.get_data(as_text=True))))
    assert rows[0] == ["row", "key", "reason", "message"]
    assert [(row[0], row[1], row[2]) for row in rows[1:]] == [("3", UNKNOWN, "not_found")]


def test_the_jobs_list_says_each_state_in_plain_words(site, admin, queued):
    page = site.get("/console/jobs?lang=en").get_data(as_text=True)
    assert f'data-job="{queued}" data-status="queued"' in page
    assert "Waiting for its turn" in page and "0 of 3 done, 0 failed" in page


def test_a_job_at_work_is_followed_every_two_seconds_and_a_change_reloads_the_page(
        site, admin, queued):
    page = site.get(f"/console/jobs/{queued}?lang=en").get_data(as_text=True)
    assert 'hx-trigger="every 2s"' in page
    assert f"/console/jobs/{queued}/progress?shown=queued" in page
    same = site.get(f"/console/jobs/{queued}/progress?shown=queued&lang=en")
    assert same.status_code == 200 and "HX-Refresh" not in same.headers
    assert "0 of 3 done, 0 failed" in same.get_data(as_text=True)
    changed = site.get(f"/console/jobs/{queued}/progress?shown=running")
    assert changed.headers.get("HX-Refresh") == "true"


def test_a_job_is_stopped_and_resumed_each_after_a_confirmation(site, admin, queued):
    confirm = site.get(f"/console/jobs/{queued}/cancel?lang=en").get_data(as_text=True)
    assert "What will happen" in confirm
    stopped = site.post(f"/console/jobs/{queued}/cancel", data={"once": form_key(confirm)},
                        headers=SAME_ORIGIN)
    assert stopped.status_code == 303
    session().expire_all()
    assert session().get(BulkJob, queued).status == "cancelled"
    page = site.get(f"/console/jobs/{queued}?lang=en").get_data(as_text=True)
    assert "data-resume" in page and "data-cancel" not in page
    confirm = site.get(f"/console/jobs/{queued}/resume?lang=en").get_data(as_text=True)
    resumed = site.post(f"/console/jobs/{queued}/resume", data={"once": form_key(confirm)},
                        headers=SAME_ORIGIN)
    assert resumed.status_code == 303
    session().expire_all()
    assert session().get(BulkJob, queued).status == "queued"


def test_stopping_a_finished_job_is_refused_on_the_page(site, admin, cards):  # noqa: F811
    answer = stop_cards(site, cards(1))
    job_id = job_of(answer.headers["Location"])
    confirm = site.get(f"/console/jobs/{job_id}/cancel?lang=en").get_data(as_text=True)
    refused = site.post(f"/console/jobs/{job_id}/cancel?lang=en",
                        data={"once": form_key(confirm)}, headers=SAME_ORIGIN)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 409
    assert 'class="error-summary"' in page and "This job is now: Finished" in page
    session().expire_all()
    assert session().execute(select(BulkJob.status).where(BulkJob.id == job_id)
                             ).scalar_one() == "finished"


def test_an_unknown_job_is_the_not_found_page(site, admin):
    for job_id in ("999999", "9" * 30):
        assert site.get(f"/console/jobs/{job_id}").status_code == 404
        assert site.get(f"/console/jobs/{job_id}/progress").status_code == 404
