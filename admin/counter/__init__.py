"""The clerk's service counter: the citizen's card and PIN open their record, with no
name search, and the actions a clerk may do for them.

The clerk signs in at `/staff/sign-in`; the counter's reader (the reader daemon of a
`counter` terminal and its local bridge) hands the citizen's card session to the page,
which binds that counter to the clerk's browser session. The clerk chooses the purpose
of the visit before any personal data shows, and every page that shows some records a
read with it (`screen.py`). Actions run through the API's own domain code on the
card session: `backend.services.perform` for a clinic visit (`clinic.py`), a stipend
pay-out (`payout.py`) and a civil document (`documents.py`); the card's lifecycle for
a PIN unblock, a lost card and a replacement (`card.py`). Appeals: filed beside the
citizen, and the queue every clerk works (`appeals.py`).
"""

from __future__ import annotations

from flask import Flask

from admin.counter import (  # noqa: F401 - routes
    appeals,
    card,
    clinic,
    documents,
    payout,
    views,
)
from admin.counter.screen import blueprint


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
