"""Card issuance at an enrolment desk, split the way card management systems split it.

An admin starts a job on the console for a citizen and a desk. The desk's reader
daemon claims it, has the blank card make its keys, sends the public keys here, and
gets back certificates from the issuing CA; it writes them and the CHUID to the card
and reports the card written, and the hub activates it: records the card and retires
the citizen's previous one (`lifecycle.record_issued`, as `issuance.issue` always did).
Nothing on the desk holds the CA key: it is handed certificates, never the means to
make them.

    requested --claim--> claimed --certify 9A, 9E--> keys_certified --activate--> active
    claimed | keys_certified --fail--> failed --claim--> claimed (the next attempt)
    requested | claimed | keys_certified | failed --cancel--> cancelled

Each step is one transaction with its audit record (`issuance.*`); nothing here
commits. Only the desk a job was started for claims it, and only that desk advances
it; the console (`satukartu card issue`) is a desk of its own (`desk_id` NULL) that
runs the same steps in-process.

Retrying. Each claim is an attempt with a fresh serial, card UUID and management key.
No card row exists before activation, so a half-finished job leaves nothing a card
could sign in with (its certificates name a card the registry does not know:
`card_unknown`). A failed job is claimed again by its desk with the next blank card.
A desk that claims while it still holds a job has given that attempt up (it was
restarted, the card was pulled): the held job is failed as abandoned first, and may
be the one handed out again. The desk reports the card written and the hub activates
it in one step, so no job rests between the two.

The PIN and PUK are made where the citizen and the card are: at the desk, which
shows them once and writes them to the card. The hub never sees them, so the
database never holds one, not even for a moment, and no answer or log of the hub can
leak one; this is the rule for every PIN (a PIN goes from the reader's PC to the card,
never to the hub). The hub keeps the policy (`PIN_DIGITS`, `PUK_DIGITS`, the tries)
and sends it with the claim. At the console the console is the desk: `issuance.py`
chooses them and prints them once, as before.

The management key (9B) of each card is derived from the CA's card-key secret and the
card UUID (`ca.card_management_key`): the claim's answer carries it for that attempt's
UUID only, and the hub stores it nowhere.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import cast

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.audit import record, record_read
from backend.auth.principal import Principal, current_principal
from backend.cards import lifecycle
from backend.cards.ca import CaError, IssuingCA, card_management_key
from backend.cards.certificates import CardIdentity, certify
from backend.cards.desk_models import HELD_STATUSES, OPEN_STATUSES, IssuanceJob
from backend.cards.models import Card
from backend.cards.store import as_utc, utcnow
from backend.errors import ApiError
from backend.identity.models import Terminal
from backend.reasons import Reason
from backend.registry.models import MAX_ID, Citizen

PIN_DIGITS = 6
PUK_DIGITS = 8
KEY_REFS = ("9A", "9E")
CLAIMABLE = ("requested", "failed")
HOLDER_FIELDS = ("national_number", "full_name")
HOLDER_PURPOSE = "card issuance at an enrolment desk: the desk checks the holder"
ABANDONED = "abandoned: its desk started again"
MAX_FAILURE = 200


@dataclass(frozen=True)
class Desk:
    """Who acts as the desk: a desk terminal, or the issuing office's console (None)."""

    terminal_id: str | None
    principal: Principal | None = None

    @classmethod
    def of(cls, principal: Principal) -> Desk:
        return cls(principal.terminal_id or principal.subject, principal)

    @classmethod
    def console(cls, principal: Principal | None = None) -> Desk:
        return cls(None, principal)

    @property
    def name(self) -> str:
        return self.terminal_id or "console"


@dataclass(frozen=True)
class Claim:
    """What the desk needs for one attempt; sent once, stored nowhere as a whole."""

    job: IssuanceJob
    card_uuid: uuid.UUID
    management_key: bytes
    holder_number: str
    holder_name: str
    pin_digits: int
    puk_digits: int
    pin_retries: int


# --- reading ----------------------------------------------------------------------


def get_job(db: Session, job_id: int, *, lock: bool = False) -> IssuanceJob:
    job = None
    if 0 < job_id <= MAX_ID:  # ids are INTEGER: a larger one names no row
        stmt = select(IssuanceJob).where(IssuanceJob.id == job_id)
        job = db.execute(stmt.with_for_update() if lock else stmt).scalar_one_or_none()
    if job is None:
        raise ApiError(Reason.NOT_FOUND, f"no issuance job {job_id}", 404)
    return job


def list_jobs(db: Session, *, status: str | None = None, desk_id: str | None = None,
              citizen_id: int | None = None, limit: int = 100) -> list[IssuanceJob]:
    """Newest first, filtered by any of status, desk and citizen."""
    stmt = select(IssuanceJob).order_by(IssuanceJob.id.desc()).limit(limit)
    if status is not None:
        stmt = stmt.where(IssuanceJob.status == status)
    if desk_id is not None:
        stmt = stmt.where(IssuanceJob.desk_id == desk_id)
    if citizen_id is not None:
        stmt = stmt.where(IssuanceJob.citizen_id == citizen_id)
    return list(db.execute(stmt).scalars())


def certificates_of(job: IssuanceJob) -> dict[str, x509.Certificate]:
    """The certificates made for the current attempt so far, by key reference."""
    found = {"9A": job.cert_9a, "9E": job.cert_9e}
    return {ref: x509.load_der_x509_certificate(der) for ref, der in found.items() if der}


# --- the steps --------------------------------------------------------------------


def start(db: Session, *, citizen_number: str, desk_id: str | None,
          old_reason: str = "superseded", principal: Principal | None = None,
          resume: bool = False) -> IssuanceJob:
    """An admin asks for a card for a citizen at a desk (None: the console itself).

    One open job per citizen. With `resume` (the console, run again after a failure)
    the citizen's open job at the same desk is taken up again instead of refused; one
    its desk still held is failed as abandoned first.
    """
    if old_reason not in lifecycle.REVOKE_REASONS:
        raise ApiError(Reason.VALIDATION_FAILED, f"unknown revocation reason {old_reason}")
    person = _living_citizen(db, citizen_number)
    if desk_id is not None:
        _usable_desk(db, desk_id)
    waiting = db.execute(select(IssuanceJob).where(
        IssuanceJob.citizen_id == person.id, IssuanceJob.status.in_(OPEN_STATUSES))
        .with_for_update()).scalar()
    if waiting is not None and resume and waiting.desk_id == desk_id:
        return _resume(db, waiting, old_reason, principal)
    if waiting is not None:
        raise ApiError(Reason.ISSUANCE_JOB_OPEN, f"citizen {person.national_number} has "
                       f"issuance job {waiting.id} open at {waiting.desk_id or 'the console'}"
                       ": cancel it first", 409, {"job_id": waiting.id})
    job = IssuanceJob(citizen_id=person.id, desk_id=desk_id, status="requested",
                      old_reason=old_reason, requested_by=_who(principal),
                      requested_at=utcnow(), attempts=0)
    db.add(job)
    db.flush()
    _audit(db, "issuance.start", job, {"desk": desk_id or "console", "old_reason": old_reason},
           principal)
    return job


def claim(db: Session, desk: Desk, *, ca: IssuingCA, settings: dict, job_id: int | None = None
          ) -> Claim | None:
    """The desk's next job (oldest first), or the console's own `job_id`; None: none.

    A desk terminal holding a job gives it up here (failed, abandoned). A job whose
    citizen died since it was started is cancelled, not handed out.
    """
    if desk.terminal_id is None and job_id is None:
        raise ValueError("the console claims the job it started, by its id")
    if desk.terminal_id is not None:
        _abandon_held(db, desk)
    while True:
        job = _next_claimable(db, desk, job_id)
        if job is None:
            return None
        person = db.get(Citizen, job.citizen_id)
        assert person is not None
        if person.died_on is None:
            return _new_attempt(db, job, person, desk, ca, settings)
        if job_id is not None:
            raise ApiError(Reason.CITIZEN_DECEASED, f"citizen {person.national_number} is "
                           "recorded as deceased", 409, {"job_id": job.id})
        _end(job, "cancelled", utcnow())
        _audit(db, "issuance.cancel", job, {"note": "the citizen is recorded as deceased"},
               desk.principal)


def certify_keys(db: Session, job_id: int, desk: Desk, *, card_uuid: str,
                 public_keys: dict[str, ec.EllipticCurvePublicKey], ca: IssuingCA
                 ) -> dict[str, x509.Certificate]:
    """Certify the card's new public keys (9A, 9E, one or both) for this attempt.

    Keys are made on the card one after the other, so each may come on its own; the
    job is keys_certified once both are. Returns the certificates made now.
    """
    job = _held_by(db, job_id, desk, card_uuid)
    made = certificates_of(job)
    _check_new_keys(public_keys, made)
    person = db.get(Citizen, job.citizen_id)
    assert person is not None and job.serial and job.card_uuid and job.expires_at
    ident = CardIdentity(person.national_number, uuid.UUID(job.card_uuid), job.serial,
                         as_utc(job.expires_at))
    now_made = {ref: certify(ca, key, ref, ident) for ref, key in sorted(public_keys.items())}
    for ref, cert in now_made.items():
        setattr(job, f"cert_{ref.lower()}", cert.public_bytes(serialization.Encoding.DER))
    if job.cert_9a and job.cert_9e:
        job.status, job.certified_at = "keys_certified", utcnow()
    job.updated_at = utcnow()
    _audit(db, "issuance.certify", job, {
        "serial": job.serial, "attempt": job.attempts,
        "certificates": {ref: f"{cert.serial_number:x}" for ref, cert in now_made.items()}},
        desk.principal)
    return now_made


def activate(db: Session, job_id: int, desk: Desk, *, card_uuid: str) -> Card:
    """The desk wrote the certificates and CHUID: record the card as the holder's.

    Asked again after it succeeded (the answer was lost), it answers the same card.
    """
    job = get_job(db, job_id, lock=True)
    _check_desk(job, desk)
    if job.status == "active" and job.card_uuid == card_uuid and job.card_id is not None:
        card = db.get(Card, job.card_id)
        assert card is not None
        return card
    if job.status != "keys_certified":
        raise _state_invalid(job, "activated")
    _check_uuid(job, card_uuid)
    person = db.get(Citizen, job.citizen_id)
    assert person is not None and job.serial and job.card_uuid and job.expires_at
    if person.died_on is not None:
        raise ApiError(Reason.CITIZEN_DECEASED, f"citizen {person.national_number} is "
                       "recorded as deceased: cancel the job", 409, {"job_id": job.id})
    card = lifecycle.record_issued(db, lifecycle.NewCard(
        citizen_id=person.id, serial=job.serial, card_uuid=uuid.UUID(job.card_uuid),
        certificates=certificates_of(job), expires_at=as_utc(job.expires_at)),
        old_reason=job.old_reason, principal=desk.principal)
    job.card_id = card.id
    _end(job, "active", utcnow())
    _audit(db, "issuance.activate", job, {"serial": card.serial, "attempt": job.attempts},
           desk.principal)
    return card


def fail(db: Session, job_id: int, desk: Desk, *, reason: str,
         card_uuid: str | None = None) -> IssuanceJob:
    """The desk could not finish this attempt; the job waits for its next claim.

    With `card_uuid`, only that attempt is failed (a late report of an older attempt
    does not end the one under way).
    """
    job = get_job(db, job_id, lock=True)
    _check_desk(job, desk)
    if job.status not in HELD_STATUSES:
        raise _state_invalid(job, "failed")
    if card_uuid is not None:
        _check_uuid(job, card_uuid)
    _fail(db, job, reason, desk.principal)
    return job


def cancel(db: Session, job_id: int, *, note: str = "",
           principal: Principal | None = None) -> IssuanceJob:
    """An admin ends a job that is not active; its desk's next step is refused."""
    job = get_job(db, job_id, lock=True)
    if job.status not in OPEN_STATUSES:
        raise _state_invalid(job, "cancelled")
    _end(job, "cancelled", utcnow())
    _audit(db, "issuance.cancel", job, {"note": note, "attempts": job.attempts}, principal)
    return job


# --- rules ------------------------------------------------------------------------


def _living_citizen(db: Session, national_number: str) -> Citizen:
    number = national_number.strip()
    person = db.execute(select(Citizen).where(Citizen.national_number == number)
                        ).scalar_one_or_none()
    if person is None:
        raise ApiError(Reason.NOT_FOUND, f"no citizen with national number {number}", 404)
    if person.died_on is not None:
        raise ApiError(Reason.CITIZEN_DECEASED, f"citizen {number} is recorded as deceased",
                       409)
    return person


def _usable_desk(db: Session, desk_id: str) -> Terminal:
    terminal = db.get(Terminal, desk_id)
    if terminal is None:
        raise ApiError(Reason.NOT_FOUND, f"no terminal {desk_id}", 404)
    if terminal.kind != "desk":
        raise ApiError(Reason.NOT_A_DESK, f"terminal {desk_id} is a {terminal.kind}, not an "
                       "enrolment desk", 409, {"kind": terminal.kind})
    if not terminal.enabled:
        raise ApiError(Reason.TERMINAL_DISABLED, f"desk {desk_id} is disabled", 409)
    return terminal


def _check_desk(job: IssuanceJob, desk: Desk) -> None:
    if job.desk_id != desk.terminal_id:
        raise ApiError(Reason.ISSUANCE_JOB_OTHER_DESK, f"issuance job {job.id} belongs to "
                       f"{job.desk_id or 'the console'}, not {desk.name}", 403)


def _check_uuid(job: IssuanceJob, card_uuid: str) -> None:
    if job.card_uuid != card_uuid:
        raise ApiError(Reason.CARD_UUID_MISMATCH, f"issuance job {job.id}'s current attempt "
                       "is for another card UUID (a new claim was made since?)", 409)


def _state_invalid(job: IssuanceJob, action: str) -> ApiError:
    return ApiError(Reason.ISSUANCE_JOB_STATE_INVALID, f"a {job.status} issuance job cannot "
                    f"be {action}", 409, {"job_id": job.id, "status": job.status})


def _held_by(db: Session, job_id: int, desk: Desk, card_uuid: str) -> IssuanceJob:
    job = get_job(db, job_id, lock=True)
    _check_desk(job, desk)
    if job.status != "claimed":
        raise _state_invalid(job, "certified")
    _check_uuid(job, card_uuid)
    return job


def _check_new_keys(public_keys: dict[str, ec.EllipticCurvePublicKey],
                    made: dict[str, x509.Certificate]) -> None:
    if not public_keys:
        raise ApiError(Reason.VALIDATION_FAILED, "send the public key of 9A, 9E or both")
    # Each certificate of this attempt was made for a P-256 key, checked as below.
    seen = [cast(ec.EllipticCurvePublicKey, cert.public_key()) for cert in made.values()]
    for ref, key in sorted(public_keys.items()):
        if ref not in KEY_REFS:
            raise ApiError(Reason.VALIDATION_FAILED, f"no key {ref} is issued (9A, 9E)")
        if ref in made:
            raise ApiError(Reason.KEY_ALREADY_CERTIFIED, f"key {ref} of this attempt is "
                           "certified already", 409, {"key_ref": ref})
        if not isinstance(key.curve, ec.SECP256R1):
            raise ApiError(Reason.PUBLIC_KEY_INVALID, f"key {ref} is not a P-256 key", 422)
        if any(key.public_numbers() == other.public_numbers() for other in seen):
            raise ApiError(Reason.PUBLIC_KEY_INVALID, f"key {ref} is the same key as another "
                           "slot's: each key is made on the card for its own slot", 422)
        seen.append(key)


def _next_claimable(db: Session, desk: Desk, job_id: int | None) -> IssuanceJob | None:
    if job_id is not None:
        job = get_job(db, job_id, lock=True)
        _check_desk(job, desk)
        if job.status not in CLAIMABLE:
            raise _state_invalid(job, "claimed")
        return job
    # A desk's own rows only; SKIP LOCKED: a row an admin is cancelling is not waited for.
    return db.execute(select(IssuanceJob).where(
        IssuanceJob.desk_id == desk.terminal_id, IssuanceJob.status.in_(CLAIMABLE))
        .order_by(IssuanceJob.requested_at, IssuanceJob.id).limit(1)
        .with_for_update(skip_locked=True)).scalar()


def _abandon_held(db: Session, desk: Desk) -> None:
    held = db.execute(select(IssuanceJob).where(
        IssuanceJob.desk_id == desk.terminal_id, IssuanceJob.status.in_(HELD_STATUSES))
        .with_for_update()).scalars().all()
    for job in held:
        _fail(db, job, ABANDONED, desk.principal)


def _new_attempt(db: Session, job: IssuanceJob, person: Citizen, desk: Desk, ca: IssuingCA,
                 settings: dict) -> Claim:
    now = utcnow()
    card_uuid = uuid.uuid4()
    try:
        key = card_management_key(settings, str(card_uuid))
    except CaError as exc:
        raise ApiError(Reason.SERVICE_UNAVAILABLE, f"the card keys are unavailable: {exc}",
                       503) from exc
    expires = now.replace(microsecond=0) + dt.timedelta(days=settings["CARD_VALIDITY_DAYS"])
    job.serial, job.card_uuid = lifecycle.new_serial(), str(card_uuid)
    job.expires_at = min(expires, ca.certificate.not_valid_after_utc)
    job.attempts += 1
    job.status, job.claimed_at, job.updated_at = "claimed", now, now
    job.cert_9a = job.cert_9e = None
    _audit(db, "issuance.claim", job, {"desk": desk.name, "serial": job.serial,
                                       "card_uuid": job.card_uuid, "attempt": job.attempts},
           desk.principal)
    if desk.terminal_id is not None:  # the console's operator typed the number already
        record_read(db, person.id, HOLDER_PURPOSE, HOLDER_FIELDS,
                    action="issuance.holder.read", subject_type="issuance_job",
                    subject_id=str(job.id), principal=desk.principal)
    return Claim(job=job, card_uuid=card_uuid, management_key=key,
                 holder_number=person.national_number, holder_name=person.full_name,
                 pin_digits=PIN_DIGITS, puk_digits=PUK_DIGITS,
                 pin_retries=settings["PIN_MAX_TRIES"])


def _fail(db: Session, job: IssuanceJob, reason: str, principal: Principal | None) -> None:
    now = utcnow()
    job.status, job.failure, job.failed_at, job.updated_at = (
        "failed", reason.strip()[:MAX_FAILURE] or "unspecified", now, now)
    job.cert_9a = job.cert_9e = None
    _audit(db, "issuance.fail", job, {"reason": job.failure, "serial": job.serial,
                                      "attempt": job.attempts}, principal)


def _resume(db: Session, job: IssuanceJob, old_reason: str,
            principal: Principal | None) -> IssuanceJob:
    if job.status in HELD_STATUSES:
        _fail(db, job, ABANDONED, principal)
    job.old_reason = old_reason
    _audit(db, "issuance.resume", job, {"old_reason": old_reason, "attempts": job.attempts},
           principal)
    return job


def _end(job: IssuanceJob, status: str, now: dt.datetime) -> None:
    job.status, job.finished_at, job.updated_at = status, now, now
    job.cert_9a = job.cert_9e = None


def _who(principal: Principal | None) -> str:
    acting = principal or (current_principal() if has_app_context() else None)
    return acting.subject[:120] if acting is not None else "system"


def _audit(db: Session, action: str, job: IssuanceJob, details: dict,
           principal: Principal | None) -> None:
    db.flush()
    record(db, action=action, subject_type="issuance_job", subject_id=str(job.id),
           citizen_id=job.citizen_id, details=details, principal=principal)
