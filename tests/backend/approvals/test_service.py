"""The rule itself, called directly: what the API, the console and the worker all go through."""

import datetime as dt

import pytest
from sqlalchemy import text

from backend.approvals import service
from backend.cards import lifecycle
from backend.cards.bulk import revoke_many
from backend.db import session
from backend.errors import ApiError
from backend.reasons import Reason
from backend.testing.identity import make_staff
from tests.backend.approvals.conftest import as_principal


def _ask(maker, serials, reason="keyCompromise"):
    return service.request_approval(session(), "cards.revoke",
                                    {"serials": serials, "reason": reason}, as_principal(maker))


def _refused(reason, call, *args, **kwargs):
    with pytest.raises(ApiError) as refused:
        call(*args, **kwargs)
    assert refused.value.reason == reason, refused.value.message
    return refused.value


def test_a_request_waits_pending_for_a_second_person(admins, many_cards):
    row = _ask(admins[0], many_cards(2))
    assert row.status == "pending" and service.needs_second_person(row)
    assert row.checker is None and row.maker == admins[0].username


def test_the_maker_cannot_approve_their_own_request(admins, many_cards):
    row = _ask(admins[0], many_cards(2))
    refused = _refused(Reason.OWN_REQUEST, service.approve, session(), row.id,
                       as_principal(admins[0]))
    assert refused.status == 403
    assert service.get_request(session(), row.id).status == "pending"


def test_the_maker_cannot_reject_their_own_request_either(admins, many_cards):
    row = _ask(admins[0], many_cards(2))
    _refused(Reason.OWN_REQUEST, service.reject, session(), row.id, as_principal(admins[0]),
             "changed my mind")


def test_a_lone_admin_is_not_exempt_their_request_only_ever_expires(app, many_cards):
    only = make_staff(app, "admin")
    row = _ask(only, many_cards(2))
    _refused(Reason.OWN_REQUEST, service.approve, session(), row.id, as_principal(only))
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=app.config["APPROVAL_EXPIRY_DAYS"] + 1)
    assert service.expire_due(session(), later) == [row.id]
    assert service.get_request(session(), row.id).status == "expired"


def test_another_admin_approves_and_is_named_as_checker(admins, many_cards):
    row = _ask(admins[0], many_cards(2))
    approved = service.approve(session(), row.id, as_principal(admins[1]), "checked the list")
    assert (approved.status, approved.checker, approved.comment) == (
        "approved", admins[1].username, "checked the list")
    assert approved.decided_at is not None


def test_a_rejection_says_why(admins, many_cards):
    row = _ask(admins[0], many_cards(2))
    _refused(Reason.VALIDATION_FAILED, service.reject, session(), row.id,
             as_principal(admins[1]), "  ")


def test_a_clerk_cannot_decide(app, admins, many_cards):
    row = _ask(admins[0], many_cards(2))
    clerk = make_staff(app, "clerk")
    _refused(Reason.ROLE_NOT_ALLOWED, service.approve, session(), row.id,
             as_principal(clerk, "clerk"))


def test_a_decided_request_cannot_be_decided_again(admins, many_cards):
    row = _ask(admins[0], many_cards(2))
    service.reject(session(), row.id, as_principal(admins[1]), "wrong list")
    refused = _refused(Reason.APPROVAL_NOT_PENDING, service.approve, session(), row.id,
                       as_principal(admins[2]))
    assert refused.status == 409


def test_a_request_is_never_handed_to_its_maker(admins, many_cards):
    row = _ask(admins[0], many_cards(2))
    _refused(Reason.ASSIGNEE_INVALID, service.assign, session(), row.id,
             as_principal(admins[1]), admins[0].username)
    assert service.get_request(session(), row.id).assigned_to is None


def test_a_request_is_handed_only_to_an_admin(app, admins, many_cards):
    row = _ask(admins[0], many_cards(2))
    clerk = make_staff(app, "clerk")
    _refused(Reason.ASSIGNEE_INVALID, service.assign, session(), row.id,
             as_principal(admins[0]), clerk.username)


def test_only_the_assignee_decides_a_handed_over_request(admins, many_cards):
    row = _ask(admins[0], many_cards(2))
    service.assign(session(), row.id, as_principal(admins[0]), admins[2].username)
    _refused(Reason.NOT_ASSIGNEE, service.approve, session(), row.id, as_principal(admins[1]))
    assert service.approve(session(), row.id, as_principal(admins[2])).status == "approved"


def test_only_the_maker_withdraws_a_request(admins, many_cards):
    row = _ask(admins[0], many_cards(2))
    _refused(Reason.NOT_MAKER, service.cancel, session(), row.id, as_principal(admins[1]))
    assert service.cancel(session(), row.id, as_principal(admins[0])).status == "cancelled"


def test_expiry_only_ever_expires(app, admins, many_cards):
    waiting = _ask(admins[0], many_cards(2))
    approved = _ask(admins[0], many_cards(2))
    service.approve(session(), approved.id, as_principal(admins[1]))
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=app.config["APPROVAL_EXPIRY_DAYS"] + 1)
    assert sorted(service.expire_due(session(), later)) == sorted([waiting.id, approved.id])
    expired = service.get_request(session(), waiting.id)
    assert (expired.status, expired.checker, expired.decided_at) == ("expired", None, None)
    assert service.get_request(session(), approved.id).status == "expired"


def test_a_request_past_its_time_cannot_be_approved(app, admins, many_cards):
    row = _ask(admins[0], many_cards(2))
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=app.config["APPROVAL_EXPIRY_DAYS"] + 1)
    _refused(Reason.APPROVAL_EXPIRED, service.approve, session(), row.id,
             as_principal(admins[1]), now=later)


def test_a_pending_request_is_not_carried_out(admins, many_cards):
    row = _ask(admins[0], many_cards(2))
    _refused(Reason.APPROVAL_NOT_APPROVED, service.carry_out, session(), row.id,
             as_principal(admins[0]), send=False)


def test_carrying_out_other_cards_than_approved_is_refused(app, admins, many_cards):
    app.config["APPROVAL_REVOKE_THRESHOLD"] = 1
    serials = many_cards(3)
    row = _ask(admins[0], serials)
    service.approve(session(), row.id, as_principal(admins[1]))
    _refused(Reason.APPROVAL_MISMATCH, revoke_many, session(), [*serials, *many_cards(1)],
             "keyCompromise", as_principal(admins[0]), approval_id=row.id, send=False)
    _refused(Reason.APPROVAL_MISMATCH, revoke_many, session(), serials, "unspecified",
             as_principal(admins[0]), approval_id=row.id, send=False)
    assert service.get_request(session(), row.id).status == "approved"


def test_a_stored_request_altered_after_approval_is_not_carried_out(admins, many_cards):
    serials = many_cards(3)
    row = _ask(admins[0], serials)
    service.approve(session(), row.id, as_principal(admins[1]))
    _disable_request_triggers()
    altered = row.payload.replace(serials[0], many_cards(1)[0])
    session().execute(service.TABLE.update().where(service.TABLE.c.id == row.id)
                      .values(payload=altered))
    _refused(Reason.APPROVAL_MISMATCH, service.carry_out, session(), row.id,
             as_principal(admins[0]), send=False)
    assert lifecycle.get_card(session(), serials[0]).status == "active"


def test_an_approval_is_carried_out_once(admins, many_cards):
    row = _ask(admins[0], many_cards(3))
    service.approve(session(), row.id, as_principal(admins[1]))
    carried, done = service.carry_out(session(), row.id, as_principal(admins[0]), send=False)
    assert carried.status == "carried_out" and done.job_id is not None
    _refused(Reason.APPROVAL_NOT_APPROVED, service.carry_out, session(), row.id,
             as_principal(admins[0]), send=False)


def test_a_few_cards_are_revoked_directly_with_one_crl(admins, many_cards):
    from backend.cards import crl

    before = crl.latest(session())
    serials = many_cards(3)
    started = revoke_many(session(), [*serials, "NOPE-NOPE-NOPE"], "keyCompromise",
                          as_principal(admins[0]))
    assert started.outcome == "done" and started.approval is None
    assert (started.job.done, started.job.failed, started.job.status) == (3, 1, "finished")
    assert {lifecycle.get_card(session(), s).status for s in serials} == {"revoked"}
    assert crl.latest(session()).number == (before.number if before else 0) + 1


def test_more_cards_than_the_threshold_wait_for_approval_and_nothing_is_revoked(
        app, admins, many_cards):
    serials = many_cards(app.config["APPROVAL_REVOKE_THRESHOLD"] + 1)
    started = revoke_many(session(), serials, "keyCompromise", as_principal(admins[0]))
    assert started.outcome == "awaiting_approval" and started.job is None
    assert started.approval.status == "pending"
    assert {lifecycle.get_card(session(), s).status for s in serials} == {"active"}


def _disable_request_triggers():
    """As a database owner could (inside this test's transaction, rolled back after)."""
    if session().get_bind().dialect.name == "postgresql":
        session().execute(text("ALTER TABLE approval_requests DISABLE TRIGGER "
                                       "approval_requests_order"))
    else:
        session().execute(text("DROP TRIGGER approval_requests_asked_is_fixed"))
        session().execute(text("DROP TRIGGER approval_requests_decision_is_final"))


def test_revoking_in_bulk_ends_the_cards_open_sessions(client, admins, citizen, card_session):
    holder = citizen()
    token = card_session(holder, assurance="pin")
    serial = client.get("/api/v1/auth/session",
                        headers={"Authorization": f"Bearer {token}"}).json["card_serial"]
    revoke_many(session(), [serial], "keyCompromise", as_principal(admins[0]))
    session().commit()
    answer = client.get("/api/v1/auth/session", headers={"Authorization": f"Bearer {token}"})
    assert (answer.status_code, answer.json["error"]["reason"]) == (401, Reason.SESSION_ENDED)


def test_beat_expires_requests_every_hour(app):
    from backend.approvals.tasks import BEAT
    from backend.tasks import celery_init_app

    schedule = celery_init_app(app).conf.beat_schedule
    assert schedule["approvals-expire-hourly"] == BEAT["approvals-expire-hourly"]
