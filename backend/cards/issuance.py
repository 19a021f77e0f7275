"""Issuing a card at the issuing office's console: `satukartu card issue`.

The console is an enrolment desk of its own (`desk.Desk.console`) and takes the same
steps as a desk terminal (`desk.py`): start, claim, certify each key, activate, or fail.
One issuance path, then, whether the reader is here or at a desk; here the steps run
in-process with the card's half (`card_reader.issuance.personalise`) between them.

The hub decides the serial, the card UUID, the card's own 9B key and its expiry when
the job is claimed; the card makes its keys; the issuing CA certifies them; only once
the card holds its certificates is it recorded (retiring the citizen's previous
card), so a card pulled out half-way is never an active card in the registry. The
citizen stands at the console, so the PIN (theirs, or made here) and the PUK are
made here and told once, as a desk makes them at a desk.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.auth.principal import Principal
from backend.cards import desk
from backend.cards.ca import IssuingCA
from backend.cards.models import LIVE_STATUSES, Card
from backend.cards.store import as_utc
from backend.errors import ApiError
from backend.registry.models import Citizen
from card_reader.client import PivSession
from card_reader.issuance import personalise
from card_reader.piv import Slot, pin_is_valid

KEY_REF_BY_SLOT = {Slot.AUTHENTICATION: "9A", Slot.CARD_AUTH: "9E"}
# One step's database scope: a transaction of its own, or the caller's one session.
Step = Callable[[], AbstractContextManager[Session]]


class IssuanceError(Exception):
    """Issuance cannot go ahead (unknown or deceased citizen, bad PIN, ...)."""


@dataclass(frozen=True)
class Issued:
    """What the operator is told once: the serial, and the PIN if the hub chose it."""

    serial: str
    card_uuid: str
    citizen_number: str
    expires_at: dt.datetime
    pin: str | None  # None when the citizen chose it
    puk: str
    replaced: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"serial": self.serial, "card_uuid": self.card_uuid,
                "citizen": self.citizen_number, "expires_at": self.expires_at.isoformat(),
                "pin": self.pin, "puk": self.puk, "replaced": self.replaced}


@dataclass(frozen=True)
class _Attempt:
    """The claimed job, as plain values that outlive the claim's transaction."""

    job_id: int
    card_uuid: uuid.UUID
    management_key: bytes
    citizen_number: str
    expires_at: dt.datetime
    pin_digits: int
    puk_digits: int
    pin_retries: int


def random_digits(count: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(count))


def find_citizen(db: Session, national_number: str) -> Citizen:
    person = db.execute(select(Citizen).where(
        Citizen.national_number == national_number.strip())).scalar_one_or_none()
    if person is None:
        raise IssuanceError(f"no citizen with national number {national_number}")
    if person.died_on is not None:
        raise IssuanceError(f"citizen {national_number} is recorded as deceased")
    return person


@contextlib.contextmanager
def _as_issuance_error() -> Iterator[None]:
    try:
        yield
    except ApiError as exc:
        raise IssuanceError(exc.message) from exc


def issue(db: Session, piv: PivSession, *, ca: IssuingCA, settings: dict[str, Any],
          citizen_number: str, pin: str | None = None, old_reason: str = "superseded",
          principal: Principal | None = None) -> Issued:
    """Personalise the blank card on `piv` for the citizen and record it in `db`.

    Every step runs in `db`; the caller commits it, and when personalisation fails
    and the caller rolls back, nothing is recorded, not even the job.
    """
    return issue_at_console(lambda: contextlib.nullcontext(db), piv, ca=ca, settings=settings,
                            citizen_number=citizen_number, pin=pin, old_reason=old_reason,
                            principal=principal, keep_failures=False)


def issue_at_console(step: Step, piv: PivSession, *, ca: IssuingCA, settings: dict[str, Any],
                     citizen_number: str, pin: str | None = None,
                     old_reason: str = "superseded", principal: Principal | None = None,
                     keep_failures: bool = True) -> Issued:
    """start -> claim -> (the card makes its keys) certify -> activate, each in `step()`.

    With a transaction per step and `keep_failures`, an attempt that fails is recorded
    as failed (its audit record says why) before the error goes on, and the next
    `card issue` for the citizen takes the same job up again.
    """
    if pin is not None and not pin_is_valid(pin):
        raise IssuanceError("a PIN has 6 to 8 digits")
    console = desk.Desk.console(principal)
    with _as_issuance_error():
        with step() as db:
            job_id = desk.start(db, citizen_number=citizen_number, desk_id=None,
                                old_reason=old_reason, principal=principal, resume=True).id
        with step() as db:
            attempt = _claim(db, console, ca, settings, job_id)
    chosen_pin = pin or random_digits(attempt.pin_digits)
    puk = random_digits(attempt.puk_digits)
    try:
        with _as_issuance_error():
            personalise(piv, certify=_certifier(step, console, ca, attempt), pin=chosen_pin,
                        puk=puk, management_key=attempt.management_key,
                        card_uuid=attempt.card_uuid, pin_retries=attempt.pin_retries)
            with step() as db:
                serial, replaced = _activate(db, console, attempt)
    except Exception as exc:
        if keep_failures:
            _record_failure(step, console, attempt, exc)
        raise
    return Issued(serial, str(attempt.card_uuid), attempt.citizen_number, attempt.expires_at,
                  None if pin else chosen_pin, puk, replaced)


def _claim(db: Session, console: desk.Desk, ca: IssuingCA, settings: dict[str, Any],
           job_id: int) -> _Attempt:
    claimed = desk.claim(db, console, ca=ca, settings=settings, job_id=job_id)
    assert claimed is not None and claimed.job.expires_at is not None
    return _Attempt(job_id, claimed.card_uuid, claimed.management_key, claimed.holder_number,
                    as_utc(claimed.job.expires_at), claimed.pin_digits, claimed.puk_digits,
                    claimed.pin_retries)


def _certifier(step: Step, console: desk.Desk, ca: IssuingCA, attempt: _Attempt) -> Any:
    def certify_slot(slot: Slot, public_key: ec.EllipticCurvePublicKey,
                     card_uuid: uuid.UUID) -> bytes:
        if card_uuid != attempt.card_uuid:
            raise IssuanceError("the card reported another UUID than the one assigned")
        key_ref = KEY_REF_BY_SLOT[Slot(slot)]
        with step() as db:
            made = desk.certify_keys(db, attempt.job_id, console,
                                     card_uuid=str(attempt.card_uuid),
                                     public_keys={key_ref: public_key}, ca=ca)
            return made[key_ref].public_bytes(serialization.Encoding.DER)

    return certify_slot


def _activate(db: Session, console: desk.Desk, attempt: _Attempt) -> tuple[str, list[str]]:
    job = desk.get_job(db, attempt.job_id)
    previous = list(db.execute(select(Card.serial).where(
        Card.citizen_id == job.citizen_id, Card.status.in_(LIVE_STATUSES))).scalars())
    card = desk.activate(db, attempt.job_id, console, card_uuid=str(attempt.card_uuid))
    return card.serial, previous


def _record_failure(step: Step, console: desk.Desk, attempt: _Attempt,
                    exc: BaseException) -> None:
    """Mark the attempt failed; a failure to say so must not hide the first error."""
    reason = f"{type(exc).__name__}: {exc}"
    with contextlib.suppress(Exception), step() as db:
        desk.fail(db, attempt.job_id, console, reason=reason, card_uuid=str(attempt.card_uuid))
