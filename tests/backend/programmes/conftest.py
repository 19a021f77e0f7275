"""Fixtures for the programme tests: an admin, and changes made as approved ones are."""

from collections.abc import Callable

import pytest
from sqlalchemy import delete, insert, update

from backend.auth.principal import Principal
from backend.db import session
from backend.programmes import settings
from backend.programmes.models import ProgrammeEpoch, ProgrammeSetting
from backend.services.catalogue import live

ADMIN = Principal(kind="staff", subject="ratna", role="admin")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def store_override(key: str, parameters: object, enabled: bool | None = None) -> None:
    """Write a settings row as an older hub (or a hand in the database) might have left
    it, bypassing validation, and move the epoch so every process looks again."""
    table = ProgrammeSetting.__table__
    sess = session()
    sess.execute(delete(table).where(table.c.key == key))
    sess.execute(insert(table).values(key=key, enabled=enabled, parameters=parameters,
                                      version=1))
    sess.execute(update(ProgrammeEpoch).values(epoch=ProgrammeEpoch.epoch + 1))
    sess.commit()
    live().expire()  # as if SATUKARTU_PROGRAMME_REFRESH_MS had passed


@pytest.fixture
def admin_token(staff_token: Callable[..., str]) -> str:
    return staff_token("admin")


@pytest.fixture
def approved_change(app) -> Callable[..., None]:
    """`approved_change("food", monthly_amount="250000")`: carried out as the approvals
    module does once a second admin approved it (request id 41), and committed."""
    def change(key: str, enabled: bool | None = None, **parameters: str | None) -> None:
        settings.apply_change(session(), key, enabled=enabled, parameters=parameters,
                              principal=ADMIN, approval_id=41)
        session().commit()
    return change
