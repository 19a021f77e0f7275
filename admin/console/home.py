"""The console's overview: how many people, cards, terminals and staff, with links.

Counts only, never a person's data, so opening it reads nobody's record.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from admin.console.blueprint import blueprint, page
from backend.cards.models import Card
from backend.db import session
from backend.identity.models import StaffAccount, Terminal
from backend.registry.models import Citizen, Household


def _by(column: Any) -> dict[str, int]:
    rows = session().execute(select(column, func.count()).group_by(column))
    return {str(key): int(count) for key, count in rows}


def counts() -> dict[str, Any]:
    sess = session()
    return {
        "citizens": sess.scalar(select(func.count()).select_from(Citizen)) or 0,
        "deceased": sess.scalar(select(func.count()).select_from(Citizen)
                                .where(Citizen.died_on.is_not(None))) or 0,
        "households": sess.scalar(select(func.count()).select_from(Household)) or 0,
        "cards": _by(Card.status),
        "terminals": _by(Terminal.kind),
        "terminals_off": sess.scalar(select(func.count()).select_from(Terminal)
                                     .where(Terminal.enabled.is_(False))) or 0,
        "staff": _by(StaffAccount.role),
        "staff_off": sess.scalar(select(func.count()).select_from(StaffAccount)
                                 .where(StaffAccount.enabled.is_(False))) or 0,
    }


@blueprint.get("/")
def index() -> tuple[str, int]:
    found = counts()
    session().rollback()
    return page("console/index.html", counts=found)
