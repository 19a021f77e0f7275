"""The database keeps the order itself: raw SQL that skips the code is refused too.

Each refusal runs in a savepoint of the test's transaction; the request behind it is
made through the code, then attacked with a plain UPDATE, INSERT or DELETE.
"""

import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from backend.approvals import service
from backend.db import session
from tests.backend.approvals.conftest import as_principal


@pytest.fixture
def pending(admins, many_cards):
    return service.request_approval(session(), "cards.revoke",
                                    {"serials": many_cards(2), "reason": "keyCompromise"},
                                    as_principal(admins[0]))


@pytest.fixture
def approved(pending, admins):
    return service.approve(session(), pending.id, as_principal(admins[1]))


def _refused(sql, **params):
    with pytest.raises(IntegrityError), session().begin_nested():
        session().execute(text(sql), params)


def _status(request_id):
    return session().execute(text("SELECT status FROM approval_requests WHERE id = :id"),
                             {"id": request_id}).scalar_one()


def _now():
    return dt.datetime.now(dt.UTC)


def test_a_request_cannot_be_inserted_already_approved(admins):
    _refused("INSERT INTO approval_requests (kind, payload, payload_hash, summary, note, "
             "maker, maker_role, status, checker, checker_role, created_at, expires_at, "
             "decided_at) VALUES ('cards.revoke', '{}', :hash, 'x', '', :maker, 'admin', "
             "'approved', :checker, 'admin', :now, :later, :now)",
             hash="0" * 64, maker=admins[0].username, checker=admins[1].username, now=_now(),
             later=_now() + dt.timedelta(days=1))


def test_the_maker_cannot_be_written_in_as_checker(pending, admins):
    _refused("UPDATE approval_requests SET status = 'approved', checker = maker, "
             "checker_role = 'admin', decided_at = :now WHERE id = :id", id=pending.id,
             now=_now())
    assert _status(pending.id) == "pending"


def test_pending_cannot_skip_to_carried_out(pending, admins):
    _refused("UPDATE approval_requests SET status = 'carried_out', checker = :checker, "
             "decided_at = :now, carried_out_at = :now, carried_out_by = :checker "
             "WHERE id = :id", id=pending.id, checker=admins[1].username, now=_now())
    assert _status(pending.id) == "pending"


def test_an_approval_cannot_go_back_to_pending(approved):
    _refused("UPDATE approval_requests SET status = 'pending', checker = NULL, "
             "checker_role = NULL, decided_at = NULL WHERE id = :id", id=approved.id)
    assert _status(approved.id) == "approved"


def test_a_rejection_cannot_become_an_approval(pending, admins):
    service.reject(session(), pending.id, as_principal(admins[1]), "wrong cards")
    _refused("UPDATE approval_requests SET status = 'approved' WHERE id = :id", id=pending.id)
    assert _status(pending.id) == "rejected"


def test_an_expired_request_never_becomes_approved(pending, admins):
    service.expire_due(session(), _now() + dt.timedelta(days=365))
    _refused("UPDATE approval_requests SET status = 'approved', checker = :checker, "
             "checker_role = 'admin', decided_at = :now, closed_at = NULL WHERE id = :id",
             id=pending.id, checker=admins[1].username, now=_now())
    assert _status(pending.id) == "expired"


def test_carrying_out_cannot_come_before_the_decision(approved, admins):
    _refused("UPDATE approval_requests SET status = 'carried_out', carried_out_by = :who, "
             "carried_out_at = :before WHERE id = :id", id=approved.id,
             who=admins[0].username, before=approved.decided_at - dt.timedelta(hours=1))
    assert _status(approved.id) == "approved"


def test_what_was_asked_cannot_be_changed(approved):
    _refused("UPDATE approval_requests SET payload = :other WHERE id = :id",
             id=approved.id, other='{"serials":["AAAA-BBBB-CCCC"],"reason":"keyCompromise"}')


def test_the_decision_cannot_be_rewritten(approved, admins):
    _refused("UPDATE approval_requests SET checker = :other WHERE id = :id",
             id=approved.id, other=admins[2].username)


def test_a_request_cannot_be_handed_to_its_maker(pending):
    _refused("UPDATE approval_requests SET assigned_to = maker WHERE id = :id", id=pending.id)


def test_a_request_is_never_deleted(pending):
    _refused("DELETE FROM approval_requests WHERE id = :id", id=pending.id)
    assert _status(pending.id) == "pending"
