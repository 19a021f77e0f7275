"""Values the schema lets through but the database or the calendar cannot hold.

Each case was found by the schemathesis run (test_schemathesis.py) as a 500; kept here
as plain requests so they are checked the same way on every run. The answer is a 4xx
with a reason, or (for a filter that matches nothing, or a month with no activity) an
ordinary answer; never a 500, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import pytest

from backend.reasons import Reason
from backend.testing.identity import bearer

HUGE = 2**63 + 5  # beyond BIGINT and SQLite's INTEGER
BIG = 2**31 + 5  # beyond INTEGER on PostgreSQL

CASES = [
    ("get", "/api/v1/audit/records", {"after": HUGE}, None, "staff:admin"),
    ("get", "/api/v1/audit/records", {"citizen_id": BIG}, None, "staff:admin"),
    ("get", "/api/v1/audit/records", {"citizen_id": HUGE}, None, "staff:admin"),
    ("get", "/api/v1/audit/me/access-log", {"before": HUGE}, None, "card:kiosk:pin"),
    ("get", "/api/v1/cards", {"citizen": BIG}, None, "staff:admin"),
    ("get", "/api/v1/cards", {"citizen": HUGE}, None, "staff:admin"),
    ("get", f"/api/v1/receipts/{HUGE}", None, None, "staff:admin"),
    ("get", f"/api/v1/receipts/{BIG}", None, None, "staff:admin"),
    ("get", f"/api/v1/citizens/{HUGE}", {"purpose": "check"}, None, "staff:admin"),
    ("post", "/api/v1/ledger/settlements", None,
     {"terminal_id": "agent-1", "day": "0001-01-01"}, "staff:admin"),
    ("get", "/api/v1/ledger/settlements/agent-1/0001-01-01", None, None, "staff:admin"),
    ("get", "/api/v1/ledger/patterns/shop-night-cards", {"since": "0001-01-01",
                                                        "until": "0001-01-01"}, None,
     "staff:admin"),
    ("get", "/api/v1/ledger/patterns/card-many-shops", {"since": "9999-12-31",
                                                       "until": "9999-12-31"}, None,
     "staff:admin"),
    ("get", "/api/v1/ledger/signals", {"since": "0001-01-01", "until": "0001-01-01"}, None,
     "staff:admin"),
    ("get", "/api/v1/ledger/signals.csv", {"since": "9999-12-31", "until": "9999-12-31"},
     None, "staff:admin"),
    ("get", "/api/v1/reports/monthly/figures", {"month": "0000-01"}, None, "staff:admin"),
    ("get", "/api/v1/reports/monthly", {"month": "0001-01"}, None, "staff:admin"),
    ("get", "/api/v1/reports/monthly/figures", {"month": "9999-12"}, None, "staff:admin"),
]


@pytest.fixture
def token_of(staff_token, card_session, citizen, card_ca):
    def make(caller):
        if caller == "staff:admin":
            return staff_token("admin")
        return card_session(citizen(), assurance="pin", terminal_kind="kiosk")
    return make


@pytest.mark.parametrize("method, path, query, body, caller", CASES,
                         ids=[f"{c[0]} {c[1]} {c[2] or c[3]}" for c in CASES])
def test_a_value_out_of_range_is_answered_without_a_server_error(client, token_of, method,
                                                                 path, query, body, caller):
    answer = client.open(path, method=method.upper(), query_string=query, json=body,
                         headers=bearer(token_of(caller)))
    assert answer.status_code < 500, (answer.status_code, answer.get_data(as_text=True))
    if answer.status_code >= 400:
        assert answer.json["error"]["reason"] in {r.value for r in Reason}
