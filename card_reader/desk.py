"""The reader daemon at an enrolment desk: a blank card inserted becomes a citizen's card.

`satukartu reader --kind desk` runs this loop instead of the tap loop. When a blank
card is in the reader it asks the hub for this desk's next issuance job (polling
until one is started on the console), then personalises the card with
`card_reader.issuance.personalise`, whose certify callback is the hub's certify
endpoint: the card makes each key, the hub's issuing CA certifies it, the certificate
goes back onto the card. Nothing here holds the CA key. When the card is written the
hub activates it; when anything fails the hub is told (the job then waits for the
next blank card, with a fresh serial and card UUID) and the card is left unused.

The PIN and PUK are made here, where the citizen is, and never sent to the hub: the
hub says how many digits (and how many tries), this desk draws them (or takes the
PIN the citizen chose through the PIN provider) and shows them once, in the `issued`
event, then lets go of them.

Events to the sink (JSON lines on stdout by default): `inserted`, `refused`
(`card_not_blank`, ...), `waiting` (no job yet), `claimed` (whose card, for the desk
to check the person), `issued` or `issuance_failed`, `removed`.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
import uuid
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from card_reader import piv
from card_reader.client import PivSession
from card_reader.daemon import JsonLinesSink, PinProvider, Refused, Sink, _refusal
from card_reader.hub_client import DeskJob, HubClient, HubError, HubRefusal
from card_reader.issuance import personalise
from card_reader.pcsc import PcscConnection, PcscError, StatusWatcher, readers_with_card

log = logging.getLogger(__name__)

DEFAULT_POLL = 2.0  # seconds between claims while a blank card waits for a job
ACTIVATE_TRIES = 3  # activation is safe to repeat: a lost answer is asked for again
KEY_REF_BY_SLOT = {piv.Slot.AUTHENTICATION: "9A", piv.Slot.CARD_AUTH: "9E"}


def random_digits(count: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(count))


def refusal_of(exc: BaseException) -> Refused:
    """A stable reason code for whatever stopped a desk's card operation."""
    try:
        return _refusal(exc)
    except Exception:  # anything else is still a failed issuance
        return Refused("issuance_error", f"{type(exc).__name__}: {exc}")


def is_blank(session: PivSession) -> bool:
    """A card straight from the factory: the PIV applet answers, no CHUID is written."""
    session.select()
    try:
        session.read_object(piv.ObjectId.CHUID)
    except piv.NotFoundError:
        return True
    return False


class DeskDaemon:
    """Issues the hub's jobs for this desk onto blank cards until `stop()`."""

    def __init__(self, hub: HubClient, sink: Sink | None = None,
                 pin_provider: PinProvider | None = None, reader: str | None = None,
                 poll: float = DEFAULT_POLL, command_timeout: float = 10.0,
                 watcher: StatusWatcher | None = None) -> None:
        self.hub = hub
        self.sink = sink or JsonLinesSink()
        self.pin_provider = pin_provider or (lambda reader: None)
        self.reader = reader
        self.poll = poll
        self.command_timeout = command_timeout
        self.watcher = watcher or StatusWatcher(
            accept=(lambda name: name.startswith(reader)) if reader else None)
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()
        self.watcher.stop()

    def run(self) -> None:
        log.info("desk daemon started", extra={"event": "started", "hub": self.hub.base_url})
        try:
            for event in self.watcher.events():
                if event.kind == "inserted":
                    self.sink({"event": "inserted", "reader": event.reader})
                    self.serve(event.reader)
                elif event.kind == "removed":
                    self.sink({"event": "removed", "reader": event.reader})
        finally:
            log.info("desk daemon stopped", extra={"event": "stopped"})

    def serve(self, reader: str) -> dict[str, Any] | None:
        """Issue the next job onto the card in `reader`; the `issued` event, or None."""
        try:
            blank = self._with_card(reader, is_blank)
        except Exception as exc:  # a refusal with its reason, not a crash
            self._refuse(reader, refusal_of(exc))
            return None
        if not blank:
            self._refuse(reader, Refused("card_not_blank", "this card is issued already: "
                                         "insert a blank card"))
            return None
        job = self._wait_for_job(reader)
        if job is None:
            return None
        self.sink({"event": "claimed", "reader": reader, "job_id": job.job_id,
                   "attempt": job.attempt, "serial": job.serial,
                   "holder": {"national_number": job.holder_number,
                              "full_name": job.holder_name}})
        return self._issue(reader, job)

    # --- steps ----------------------------------------------------------------------

    def _wait_for_job(self, reader: str) -> DeskJob | None:
        said_waiting = False
        while not self._stop.is_set():
            try:
                if reader not in readers_with_card():
                    return None  # the watcher reports the removal
            except PcscError:
                return None  # pcscd went away: the watcher reports it and comes back
            try:
                job = self.hub.claim_job()
            except HubError as exc:
                log.warning("claim failed", extra={"event": "claim_failed", "error": str(exc)})
                job = None
            if job is not None:
                return job
            if not said_waiting:
                self.sink({"event": "waiting", "reader": reader})
                said_waiting = True
            self._stop.wait(self.poll)
        return None

    def _issue(self, reader: str, job: DeskJob) -> dict[str, Any] | None:
        started = time.perf_counter()
        chosen = self.pin_provider(reader)
        pin, puk = chosen or random_digits(job.pin_digits), random_digits(job.puk_digits)
        try:
            self._with_card(reader, lambda session: personalise(
                session, certify=self._certifier(job), pin=pin, puk=puk,
                management_key=job.management_key, card_uuid=job.card_uuid,
                pin_retries=job.pin_retries), reset=True)
            card = self._activate(job)
        except Exception as exc:  # every failure is reported, then told
            refusal = refusal_of(exc)
            self._tell_failed(job, refusal)
            self.sink({"event": "issuance_failed", "reader": reader, "job_id": job.job_id,
                       **refusal.to_dict()})
            return None
        issued = {"event": "issued", "reader": reader, "job_id": job.job_id,
                  "serial": card["serial"], "card_uuid": str(job.card_uuid),
                  "expires_at": card.get("expires_at", job.expires_at),
                  "pin": None if chosen else pin, "puk": puk,
                  "ms": round((time.perf_counter() - started) * 1000, 1)}
        log.info("card issued", extra={"event": "issued", "card_serial": card["serial"]})
        self.sink(issued)
        return issued

    def _certifier(self, job: DeskJob) -> Any:
        def certify(slot: piv.Slot, public_key: ec.EllipticCurvePublicKey,
                    card_uuid: uuid.UUID) -> bytes:
            ref = KEY_REF_BY_SLOT[piv.Slot(slot)]
            der = public_key.public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
            return self.hub.certify_job(job.job_id, card_uuid, {ref: der})[ref]

        return certify

    def _activate(self, job: DeskJob) -> dict[str, Any]:
        for attempt in range(ACTIVATE_TRIES):
            try:
                return self.hub.activate_job(job.job_id, job.card_uuid)
            except HubRefusal:
                raise
            except HubError:
                if attempt == ACTIVATE_TRIES - 1:
                    raise
                self._stop.wait(min(self.poll, 1.0))
        raise AssertionError("unreachable")

    def _tell_failed(self, job: DeskJob, refusal: Refused) -> None:
        try:
            self.hub.fail_job(job.job_id, f"{refusal.reason}: {refusal}", job.card_uuid)
        except HubError as exc:  # the desk's next claim gives the attempt up anyway
            log.warning("could not report the failure", extra={
                "event": "fail_unreported", "job_id": job.job_id, "error": str(exc)})

    def _with_card(self, reader: str, work: Any, reset: bool = False) -> Any:
        conn = PcscConnection(reader, self.command_timeout)
        try:
            return work(PivSession(conn))
        finally:
            with contextlib.suppress(PcscError):
                conn.close(reset=reset)

    def _refuse(self, reader: str, refusal: Refused) -> None:
        log.info("card refused", extra={"event": "refused", "reader": reader,
                                        "reason": refusal.reason})
        self.sink({"event": "refused", "reader": reader, **refusal.to_dict()})
        return None
