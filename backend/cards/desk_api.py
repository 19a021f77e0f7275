"""Issuance jobs over HTTP: admins start and follow them, a desk terminal works them.

The rules are in `desk.py`; these views only translate. The desk routes take a desk
terminal's own token: a card session opened at a desk is the citizen, not the desk.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Literal

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Response, current_app, jsonify
from pydantic import Field

from backend.api.routing import Api, OutModel, StrictModel
from backend.auth.principal import Principal, Requirement, current_principal
from backend.cards import desk, lifecycle
from backend.cards.desk_models import STATUSES, IssuanceJob
from backend.db import session
from backend.errors import ApiError
from backend.reasons import Reason
from backend.registry.models import MAX_ID

api = Api("issuance", tag="issuance")

ADMIN = Requirement(roles=("admin",))
DESK = Requirement(terminal_kinds=("desk",))
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
TERMINAL_ID = r"^[a-z]{1,16}-[0-9a-f]{10}$"
UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
MAX_KEY_B64 = 400  # a P-256 SubjectPublicKeyInfo is 91 bytes: 124 characters of base64
JOB_STEPS = (Reason.NOT_FOUND, Reason.FORBIDDEN, Reason.ISSUANCE_JOB_OTHER_DESK,
             Reason.ISSUANCE_JOB_STATE_INVALID, Reason.CARD_UUID_MISMATCH)


def _desk() -> desk.Desk:
    principal: Principal | None = current_principal()
    if principal is None or principal.kind != "terminal":
        raise ApiError(Reason.FORBIDDEN, "only a desk terminal's own token may do this", 403)
    return desk.Desk.of(principal)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# --- admins ------------------------------------------------------------------------


class IssuanceStartIn(StrictModel):
    citizen: str = Field(min_length=1, max_length=32, pattern=PRINTABLE,
                         description="the citizen's national number")
    desk: str = Field(pattern=TERMINAL_ID, description="the desk terminal's id")
    old_reason: Literal[lifecycle.REVOKE_REASONS] = Field(  # type: ignore[valid-type]
        "superseded", description="what happened to the citizen's current card, retired "
        "when the new one is activated (keyCompromise: lost or stolen)")


class IssuanceJobOut(OutModel):
    job_id: int
    citizen_id: int
    desk_id: str | None = Field(description="null: issued at the issuing office's console")
    status: Literal[STATUSES]  # type: ignore[valid-type]
    old_reason: str
    requested_by: str
    requested_at: dt.datetime
    attempts: int
    serial: str | None = Field(description="the current or last attempt's card serial")
    card_uuid: str | None
    expires_at: dt.datetime | None
    claimed_at: dt.datetime | None
    certified_at: dt.datetime | None
    failure: str | None = Field(description="why the last attempt failed")
    failed_at: dt.datetime | None
    finished_at: dt.datetime | None = Field(description="when it became active or cancelled")

    @classmethod
    def of(cls, job: IssuanceJob) -> IssuanceJobOut:
        return cls(job_id=job.id, citizen_id=job.citizen_id, desk_id=job.desk_id,
                   status=job.status, old_reason=job.old_reason,
                   requested_by=job.requested_by, requested_at=job.requested_at,
                   attempts=job.attempts, serial=job.serial, card_uuid=job.card_uuid,
                   expires_at=job.expires_at, claimed_at=job.claimed_at,
                   certified_at=job.certified_at, failure=job.failure,
                   failed_at=job.failed_at, finished_at=job.finished_at)


class IssuanceJobList(OutModel):
    jobs: list[IssuanceJobOut]


class IssuanceJobQuery(StrictModel):
    status: Literal[STATUSES] | None = None  # type: ignore[valid-type]
    desk: str | None = Field(None, pattern=TERMINAL_ID)
    citizen: int | None = Field(None, ge=1, le=MAX_ID, description="the citizen's id")
    limit: int = Field(100, ge=1, le=500)


class IssuanceCancelIn(StrictModel):
    note: str = Field("", max_length=500, pattern=PRINTABLE)


@api.route("/issuance-jobs", "POST", summary="Start issuing a card to a citizen at a desk",
           auth=ADMIN, body=IssuanceStartIn, response=IssuanceJobOut, status=201,
           reasons=(Reason.NOT_FOUND, Reason.CITIZEN_DECEASED, Reason.NOT_A_DESK,
                    Reason.TERMINAL_DISABLED, Reason.ISSUANCE_JOB_OPEN))
def start_job(body: IssuanceStartIn) -> IssuanceJobOut:
    """The desk's reader daemon claims it when a blank card is in its reader. One open
    job per citizen; the citizen's current card works until the new one is activated."""
    return IssuanceJobOut.of(desk.start(session(), citizen_number=body.citizen,
                                        desk_id=body.desk, old_reason=body.old_reason))


@api.route("/issuance-jobs", summary="Issuance jobs, newest first", auth=ADMIN,
           query=IssuanceJobQuery, response=IssuanceJobList)
def list_jobs(query: IssuanceJobQuery) -> IssuanceJobList:
    found = desk.list_jobs(session(), status=query.status, desk_id=query.desk,
                           citizen_id=query.citizen, limit=query.limit)
    return IssuanceJobList(jobs=[IssuanceJobOut.of(job) for job in found])


@api.route("/issuance-jobs/<int:job_id>", summary="One issuance job", auth=ADMIN,
           response=IssuanceJobOut, reasons=(Reason.NOT_FOUND,))
def get_job(job_id: int) -> IssuanceJobOut:
    return IssuanceJobOut.of(desk.get_job(session(), job_id))


@api.route("/issuance-jobs/<int:job_id>/cancel", "POST", summary="Cancel an issuance job",
           auth=ADMIN, body=IssuanceCancelIn, response=IssuanceJobOut,
           reasons=(Reason.NOT_FOUND, Reason.ISSUANCE_JOB_STATE_INVALID))
def cancel_job(job_id: int, body: IssuanceCancelIn) -> IssuanceJobOut:
    """Any job not yet active; the desk's next step on it is refused, and no card it
    may have written half-way is ever recorded."""
    return IssuanceJobOut.of(desk.cancel(session(), job_id, note=body.note))


# --- the desk ----------------------------------------------------------------------


class DeskHolder(OutModel):
    national_number: str
    full_name: str


class DeskJob(OutModel):
    job_id: int
    attempt: int
    serial: str
    card_uuid: str = Field(description="write it in the CHUID; certify with it")
    expires_at: dt.datetime
    holder: DeskHolder = Field(description="for the desk to check the person in front "
                               "of it (the read is in the holder's access log)")
    management_key: str = Field(description="hex of this card's new 9B key (AES-128), "
                                "for this attempt only; keep it no longer than the "
                                "personalisation")
    management_algorithm: Literal["AES128"] = "AES128"
    pin_digits: int = Field(description="the PIN the desk makes (or the citizen chooses) "
                            "has this many digits; it never comes to the hub")
    puk_digits: int
    pin_retries: int


class DeskClaimOut(OutModel):
    job: DeskJob | None = Field(description="null: no job waits for this desk")


class DeskCertifyIn(StrictModel):
    card_uuid: str = Field(pattern=UUID, description="the claim's card UUID")
    public_keys: dict[Literal["9A", "9E"], str] = Field(
        min_length=1, max_length=2,
        description="base64 DER SubjectPublicKeyInfo of each new key (P-256)")


class DeskCertifyOut(OutModel):
    job_id: int
    status: str
    serial: str
    card_uuid: str
    expires_at: dt.datetime
    certificates: dict[str, str] = Field(description="base64 DER certificate per key made "
                                         "now, to write to the card")


class DeskAttemptIn(StrictModel):
    card_uuid: str = Field(pattern=UUID, description="the claim's card UUID")


class DeskActivateOut(OutModel):
    job_id: int
    status: str
    serial: str
    card_uuid: str
    citizen_id: int
    expires_at: dt.datetime


class DeskFailIn(StrictModel):
    reason: str = Field(min_length=1, max_length=200, pattern=PRINTABLE,
                        description="what went wrong, for the admin and the audit log")
    card_uuid: str | None = Field(None, pattern=UUID,
                                  description="the attempt that failed (recommended)")


def _public_key(ref: str, text: str) -> ec.EllipticCurvePublicKey:
    try:
        if len(text) > MAX_KEY_B64:
            raise ValueError("too long")
        key = serialization.load_der_public_key(base64.b64decode(text, validate=True))
    except (ValueError, binascii.Error, TypeError, UnsupportedAlgorithm) as exc:
        raise ApiError(Reason.PUBLIC_KEY_INVALID, f"key {ref} is not a base64 DER public "
                       "key", 422, {"key_ref": ref}) from exc
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ApiError(Reason.PUBLIC_KEY_INVALID, f"key {ref} is not an EC key", 422,
                       {"key_ref": ref})
    return key


@api.route("/desk/jobs/claim", "POST", summary="This desk's next issuance job, if any",
           auth=DESK, response=DeskClaimOut,
           reasons=(Reason.FORBIDDEN, Reason.SERVICE_UNAVAILABLE))
def claim_job() -> Response:
    """A new attempt: fresh serial, card UUID and management key. A job this desk still
    held is given up first (failed, abandoned). Answered `Cache-Control: no-store`."""
    claimed = desk.claim(session(), _desk(), ca=lifecycle.issuing_ca(),
                         settings=dict(current_app.config))
    out = DeskClaimOut(job=None if claimed is None else DeskJob(
        job_id=claimed.job.id, attempt=claimed.job.attempts, serial=claimed.job.serial,
        card_uuid=str(claimed.card_uuid), expires_at=claimed.job.expires_at,
        holder=DeskHolder(national_number=claimed.holder_number,
                          full_name=claimed.holder_name),
        management_key=claimed.management_key.hex(), pin_digits=claimed.pin_digits,
        puk_digits=claimed.puk_digits, pin_retries=claimed.pin_retries))
    response = jsonify(out.model_dump(mode="json"))
    response.headers["Cache-Control"] = "no-store"
    return response


@api.route("/desk/jobs/<int:job_id>/certify", "POST", summary="Certify the card's new "
           "public keys with the issuing CA", auth=DESK, body=DeskCertifyIn,
           response=DeskCertifyOut,
           reasons=(*JOB_STEPS, Reason.KEY_ALREADY_CERTIFIED, Reason.PUBLIC_KEY_INVALID,
                    Reason.SERVICE_UNAVAILABLE))
def certify_job(job_id: int, body: DeskCertifyIn) -> DeskCertifyOut:
    """9A and 9E together or each on its own (the card makes them one after the other);
    the job is keys_certified once both are."""
    acting = _desk()
    keys: dict[str, ec.EllipticCurvePublicKey] = {
        ref: _public_key(ref, text) for ref, text in body.public_keys.items()}
    made = desk.certify_keys(session(), job_id, acting, card_uuid=body.card_uuid,
                             public_keys=keys, ca=lifecycle.issuing_ca())
    job = desk.get_job(session(), job_id)
    return DeskCertifyOut(job_id=job.id, status=job.status, serial=job.serial or "",
                          card_uuid=job.card_uuid or "", expires_at=job.expires_at,
                          certificates={ref: _b64(cert.public_bytes(serialization.Encoding.DER))
                                        for ref, cert in made.items()})


@api.route("/desk/jobs/<int:job_id>/activate", "POST", summary="The card is written: "
           "activate it", auth=DESK, body=DeskAttemptIn, response=DeskActivateOut,
           reasons=(*JOB_STEPS, Reason.CITIZEN_DECEASED, Reason.SERVICE_UNAVAILABLE))
def activate_job(job_id: int, body: DeskAttemptIn) -> DeskActivateOut:
    """Records the card as the holder's active card and retires their previous one, in
    this request's transaction. Asked again after success, it answers the same card."""
    card = desk.activate(session(), job_id, _desk(), card_uuid=body.card_uuid)
    return DeskActivateOut(job_id=job_id, status="active", serial=card.serial,
                           card_uuid=card.card_uuid, citizen_id=card.citizen_id,
                           expires_at=card.expires_at)


@api.route("/desk/jobs/<int:job_id>/fail", "POST", summary="This attempt failed at the desk",
           auth=DESK, body=DeskFailIn, response=IssuanceJobOut, reasons=JOB_STEPS)
def fail_job(job_id: int, body: DeskFailIn) -> IssuanceJobOut:
    """The job waits for this desk's next claim (a new attempt, with the next blank
    card); nothing of the failed attempt is kept but its audit record."""
    failed = desk.fail(session(), job_id, _desk(), reason=body.reason,
                       card_uuid=body.card_uuid)
    return IssuanceJobOut.of(failed)
