"""A sign-in halfway: the password was right, the account's one-time code is still to come.

Both screens that sign staff in with a password ask an account with TOTP for its code
on a second page: the staff sign-in (`admin/staff/views.py`) and the shop agent's screen
(`admin/agent/views.py`). Between the two pages the password step's success
(`signin.NeedsCode`) is kept in the signed session under `PENDING_KEY`, for
`PENDING_SECONDS`, never as a token: nobody is signed in until the code is right. It is
kept with the screen that asked, so one screen's half sign-in is never finished on
another's code page; a browser holds one at a time (a new password step replaces it).
"""

from __future__ import annotations

import time
from typing import Any

from flask import session

from backend.identity import signin

PENDING_KEY = "staff_pending"
PENDING_SECONDS = 300
MAX_CODE = 20


def hold(result: signin.NeedsCode, screen: str, **extra: Any) -> None:
    """Keep the password step's success for `screen`'s code page (and `extra`, such as
    where to go afterwards, for the page to read back from `drop`)."""
    session[PENDING_KEY] = {"username": result.username, "id": result.account_id,
                            "generation": result.generation, "source": result.source,
                            "role": result.role, "screen": screen, **extra,
                            "until": int(time.time()) + PENDING_SECONDS}


def pending(screen: str) -> signin.NeedsCode | None:
    """The half sign-in `screen` kept, while it lasts; None when there is none (or it is
    another screen's, or too old)."""
    stored = session.get(PENDING_KEY)
    if not isinstance(stored, dict) or stored.get("screen") != screen or \
            not isinstance(stored.get("until"), int) or stored["until"] < time.time():
        return None
    return signin.NeedsCode(username=stored["username"], account_id=stored["id"],
                            generation=stored["generation"], source=stored["source"],
                            role=stored["role"])


def drop() -> dict[str, Any]:
    """Forget the half sign-in (done, or to start again); what was kept, or {}."""
    stored = session.pop(PENDING_KEY, None)
    return stored if isinstance(stored, dict) else {}
