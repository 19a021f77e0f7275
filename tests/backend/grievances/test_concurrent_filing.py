"""Two filings about one refusal at the same moment make one appeal: the second, held
by the partial unique index until the first commits, answers the first (PostgreSQL:
READ COMMITTED lets it see the row the index refused it for)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import text

from backend.auth.principal import Principal
from backend.db import database, session
from backend.grievances import service, subjects
from backend.grievances.models import Grievance
from backend.testing.identity import make_staff
from backend.testing.registry import make_citizen

WAITING = text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
               "AND datname = current_database()")


@pytest.mark.postgres
def test_a_filing_held_by_the_index_until_the_first_commits_answers_the_first(
        committing_app):
    app = committing_app
    clerk = make_staff(app, "clerk")
    me = Principal(kind="staff", subject=clerk.username, role="clerk")
    holder = make_citizen()
    now = dt.datetime.now(dt.UTC)
    subject = subjects.Refusal(7, "not_eligible", "elderly", None, None, now)
    session().commit()
    second: list[service.Filed | BaseException] = []

    def file_again() -> None:
        try:
            with app.app_context(), database().transaction() as other:
                second.append(service.file_appeal(other, me, citizen_id=holder.id,
                                                  channel="counter", subject=subject,
                                                  now=now))
        except BaseException as error:  # shown by the assertion below
            second.append(error)

    with database().sessions() as first, first.begin():
        created = service.file_appeal(first, me, citizen_id=holder.id, channel="counter",
                                      subject=subject, now=now)
        assert created.created
        racer = threading.Thread(target=file_again)
        racer.start()
        with database().engine.connect() as watch:
            while not watch.execute(WAITING).scalar():  # until it waits on the index
                watch.rollback()
                racer.join(0.01)
                assert racer.is_alive(), f"the second filing did not wait: {second}"
    racer.join()
    assert second and second[0].created is False
    assert second[0].grievance.id == created.grievance.id
    assert session().query(Grievance).filter_by(citizen_id=holder.id).count() == 1
