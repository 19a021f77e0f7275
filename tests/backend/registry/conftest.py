"""Callers of the registry API: staff of each role and terminals, as bearer headers."""

import pytest
from sqlalchemy import select

from backend.audit.models import AuditRecord
from backend.db import session
from backend.testing.identity import bearer


@pytest.fixture
def as_role(staff_token):
    """`as_role("clerk")` -> Authorization headers of a fresh staff member of that role."""
    return lambda role: bearer(staff_token(role))


@pytest.fixture
def admin(as_role):
    return as_role("admin")


@pytest.fixture
def clerk(as_role):
    return as_role("clerk")


def new_citizen_body(**fields):
    body = {"national_number": "3578085705900003", "full_name": "Siti  Aminah",
            "birth_date": "1990-05-17", "sex": "F", "address": "Jl. Melati 7",
            "region_code": "3578081010", "language": "id"}
    body.update(fields)
    return body


def audit_records(action=None, citizen_id=None):
    query = select(AuditRecord).order_by(AuditRecord.seq)
    if action is not None:
        query = query.where(AuditRecord.action == action)
    if citizen_id is not None:
        query = query.where(AuditRecord.citizen_id == citizen_id)
    return list(session().scalars(query))
