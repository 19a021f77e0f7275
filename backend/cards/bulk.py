"""Revoking many cards at once: directly up to a threshold, beyond it only as approved.

`revoke_many` is the one way in, for the API, the CLI and the screens:

- at most APPROVAL_REVOKE_THRESHOLD cards, and no approval named: done now, in the
  caller's transaction, as a finished job (its failures downloadable like any job's);
- more cards and no approval named: stored as a `cards.revoke` request that needs a
  second admin (`backend.approvals`); nothing is revoked;
- an approval named: carried out only if it is approved and these are exactly the
  cards, reason and note approved (same SHA-256); a bulk job is queued for a worker.

A batch revokes its cards with set-based statements, ends their open sessions, writes
each card's audit record and signs one CRL for the whole batch (`revoke_batch`). A
serial that names no card, or a card no longer live, is a failure of that row only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.approvals import kinds, service
from backend.approvals.models import ApprovalRequest
from backend.audit import record
from backend.auth.principal import Principal
from backend.bulk import jobs, runner
from backend.bulk.models import BulkJob
from backend.cards import crl
from backend.cards.lifecycle import REVOKE_REASONS, issuing_ca, normalise_serial
from backend.cards.models import LIVE_STATUSES
from backend.cards.store import card_sessions, cards, utcnow
from backend.reasons import Reason

KIND = "cards.revoke"
MAX_SERIALS = 50_000
SERIAL = re.compile(r"^[0-9A-Z][0-9A-Z-]{0,19}$")
PAYLOAD_KEYS = {"serials", "reason", "note"}


def threshold() -> int:
    return current_app.config["APPROVAL_REVOKE_THRESHOLD"]


def normalise(payload: Any) -> dict[str, Any]:
    """`{"serials": [...], "reason": ..., "note": ...}` with serials upper-cased, trimmed
    and each kept once, in the order given (the order rows are done and numbered)."""
    if not isinstance(payload, dict):
        raise kinds.invalid("a revocation is an object with serials, reason and note")
    unknown = set(payload) - PAYLOAD_KEYS
    if unknown:
        raise kinds.invalid(f"unknown fields {sorted(unknown)}", fields=sorted(unknown))
    serials = payload.get("serials")
    if not isinstance(serials, list) or not serials or len(serials) > MAX_SERIALS:
        raise kinds.invalid(f"serials: a list of 1 to {MAX_SERIALS} card serials")
    seen: dict[str, None] = {}
    for position, raw in enumerate(serials, start=1):
        serial = normalise_serial(raw) if isinstance(raw, str) else ""
        if not SERIAL.fullmatch(serial):
            raise kinds.invalid(f"serials: row {position} is not a card serial",
                                row=position)
        seen.setdefault(serial, None)
    reason = payload.get("reason")
    if reason not in REVOKE_REASONS:
        raise kinds.invalid(f"reason: one of {', '.join(REVOKE_REASONS)}")
    note = payload.get("note", "")
    if not isinstance(note, str) or len(note) > 500:
        raise kinds.invalid("note: text of at most 500 characters")
    return {"serials": list(seen), "reason": reason, "note": note.strip()}


def describe(payload: dict[str, Any]) -> str:
    serials = payload["serials"]
    sample = ", ".join(serials[:3]) + (", ..." if len(serials) > 3 else "")
    return f"Revoke {len(serials)} card(s) ({payload['reason']}): {sample}"


def _carry_out(db: Session, request: ApprovalRequest, payload: dict[str, Any],
               principal: Principal, send: bool) -> kinds.CarriedOut:
    job = jobs.create_job(db, KIND, payload, total=len(payload["serials"]), unit="cards",
                          created_by=principal.subject, approval_id=request.id, send=send)
    return kinds.CarriedOut(job_id=job.id, message=f"bulk job {job.id} queued")


kinds.register(kinds.Kind(name=KIND, title="Revoke many cards", normalise=normalise,
                          describe=describe, carry_out=_carry_out))


# --- the one way in ----------------------------------------------------------------------


@dataclass(frozen=True)
class RevokeStarted:
    """What `revoke_many` did: `done` (a finished job), `awaiting_approval` (a request),
    or `queued` (an approved request carried out as a job)."""

    outcome: str
    job: BulkJob | None = None
    approval: ApprovalRequest | None = None


def revoke_many(db: Session, serials: list[str], reason: str, principal: Principal, *,
                note: str = "", approval_id: int | None = None,
                send: bool = True) -> RevokeStarted:
    """Revoke `serials` for `reason`, or ask for it, or carry out its approval.

    Refusals: validation_failed (the payload), role_not_allowed (not an admin), and with
    an approval: approval_not_approved, approval_expired, approval_mismatch (these are
    not exactly the approved cards, reason and note)."""
    service.require_admin(principal, "revoke cards")
    payload = normalise({"serials": serials, "reason": reason, "note": note})
    if approval_id is not None:
        _, done = service.carry_out(db, approval_id, principal, kind=KIND, payload=payload,
                                    send=send)
        assert done.job_id is not None
        return RevokeStarted("queued", job=jobs.get_job(db, done.job_id))
    if len(payload["serials"]) > threshold():
        request = service.request_approval(db, KIND, payload, principal, note=note)
        return RevokeStarted("awaiting_approval", approval=request)
    job = jobs.create_job(db, KIND, payload, total=len(payload["serials"]), unit="cards",
                          created_by=principal.subject, send=False)
    runner.run_here(db, job, batch=current_app.config["BULK_BATCH"])
    return RevokeStarted("done", job=jobs.get_job(db, job.id))


# --- a batch -------------------------------------------------------------------------------


def revoke_batch(db: Session, rows: list[runner.Row], reason: str, note: str,
                 principal: Principal, job_id: int) -> list[runner.Failure]:
    """Revoke the live cards among `rows` ((row number, serial)) in the caller's
    transaction: their status, their open sessions ended, one audit record each, and
    one CRL for the batch. Unknown and no-longer-live cards are returned as failures."""
    serials = [serial for _, serial in rows]
    found = {row.serial: row for row in db.execute(
        select(cards.c.id, cards.c.serial, cards.c.status, cards.c.citizen_id)
        .where(cards.c.serial.in_(serials)).with_for_update())}
    failures, live = [], []
    for number, serial in rows:
        card = found.get(serial)
        if card is None:
            failures.append(runner.Failure(number, serial, Reason.NOT_FOUND,
                                           "no card with this serial"))
        elif card.status not in LIVE_STATUSES:
            failures.append(runner.Failure(number, serial, Reason.CARD_STATE_INVALID,
                                           f"the card is already {card.status}"))
        else:
            live.append(card)
    if not live:
        return failures
    now = utcnow()
    status = "superseded" if reason == "superseded" else "revoked"
    ids = [card.id for card in live]
    db.execute(update(cards).where(cards.c.id.in_(ids), cards.c.status.in_(LIVE_STATUSES))
               .values(status=status, revocation_reason=reason, status_changed_at=now))
    db.execute(update(card_sessions).where(card_sessions.c.card_id.in_(ids),
                                           card_sessions.c.ended_at.is_(None))
               .values(ended_at=now, end_reason=f"card_{status}"))
    for card in live:
        record(db, action="card.revoke", subject_type="card", subject_id=card.serial,
               citizen_id=card.citizen_id, principal=principal,
               details={"reason": reason, "note": note, "job": job_id})
    crl.publish(db, issuing_ca(), current_app.config["CRL_VALIDITY_HOURS"],
                note=f"bulk job {job_id}: revoked {len(live)} cards ({reason})", now=now)
    return failures


def _process(db: Session, job: BulkJob, payload: dict[str, Any], rows: list[runner.Row],
             principal: Principal) -> list[runner.Failure]:
    return revoke_batch(db, rows, payload["reason"], payload["note"], principal, job.id)


runner.register(runner.BatchKind(
    name=KIND, needs_approval=lambda payload: len(payload["serials"]) > threshold(),
    rows=lambda payload: payload["serials"], process=_process))
