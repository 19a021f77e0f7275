"""A queued allocation whose programme was turned off before a worker took it."""

import logging

from sqlalchemy import func, select

from backend.db import session
from backend.ledger.models import Grant
from backend.ledger.tasks import allocate_task
from backend.programmes import settings
from backend.services.catalogue import live
from tests.backend.programmes.conftest import ADMIN


def test_an_allocation_of_a_programme_turned_off_since_it_was_queued_grants_nothing(
        app, caplog, monkeypatch):
    logger = logging.getLogger("backend.ledger.tasks")  # its own, whatever ran before
    monkeypatch.setattr(logger, "disabled", False)
    monkeypatch.setattr(logger, "handlers", [caplog.handler])
    caplog.set_level(logging.WARNING, logger=logger.name)
    settings.apply_change(session(), "food", enabled=False, parameters={}, principal=ADMIN)
    session().commit()
    live().expire()
    assert allocate_task.run("food", "groceries", "2026-01") == {
        "granted": 0, "amount": 0, "batches": 0}
    assert "allocation food/groceries 2026-01 skipped" in caplog.text
    assert session().scalar(select(func.count()).select_from(Grant)) == 0


def test_an_allocation_of_an_unknown_programme_or_purse_is_skipped_not_a_traceback(app):
    assert allocate_task.run("no_such_programme", "x", "2026-01")["granted"] == 0
    assert allocate_task.run("food", "no_such_purse", "2026-01")["granted"] == 0
