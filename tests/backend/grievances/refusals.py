"""A real refusal to appeal: the API refuses a citizen on no family card an extract of
it, and its refusal hook records that (the record an appeal names)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from backend.reasons import Reason

REFUSED = ("civil_documents", "family_card_extract")  # refused: on no family card


@pytest.fixture
def recorded_refusal(call_service: Callable[..., Any], audit_log: Callable[..., Any]
                     ) -> Callable[[str], int]:
    """`recorded_refusal(token)`: have the card session's holder refused; the refusal's
    audit record's number."""
    def refuse(token: str) -> int:
        answer = call_service(token, *REFUSED, {})
        assert answer.json["error"]["reason"] == Reason.NOT_ELIGIBLE, answer.json
        return int(audit_log(action="api.services.run_action")[-1]["seq"])
    return refuse
