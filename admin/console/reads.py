"""A page that shows a person's data: its reads are recorded, then it is shown.

The page is rendered first, then each person's read is written to the audit log with
the purpose and the parts shown (`backend.registry.trail.read`, what the API calls),
and the transaction committed: a page is only shown once its reads are recorded, and
a page that fails to render records nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from admin.console.blueprint import page
from backend.api.routing import commit
from backend.db import session
from backend.registry import trail


def shown(template: str, purpose: str, reads: Iterable[tuple[int, Iterable[str]]],
          status: int = 200, **context: Any) -> tuple[str, int]:
    """Render `template`, record a read per (citizen id, fields shown), commit."""
    answer = page(template, status, purpose=purpose, **context)
    for citizen_id, fields in reads:
        trail.read(session(), citizen_id, purpose, fields)
    commit()
    return answer
