"""An offline redemption at the card: the card proves itself, then signs what it pays.

With the hub out of reach the daemon is the only judge of the card, so it asks what
the hub would: the PIN on the card (VERIFY), a certificate of the city's CA that is
not revoked (`trust`), and a fresh challenge of its own signed by key 9A (the card
holds the certificate's private key: a copied certificate alone gets nothing). Then
the caps: per redemption, per card and per agent in the city's day, counting every
offline redemption of the programme that day this terminal queued (sent or not): the
caps are the programme's, as the hub counts them. Last the card signs
the redemption itself, which is what lets the hub, later, hold the citizen to it; the
signature is checked here too, so nothing unverifiable is queued.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import uuid
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from card_reader import wire
from card_reader.client import Connection, PivSession
from card_reader.daemon import OneTimePin, Refused
from card_reader.offline.queue import OfflineQueue, Spent
from card_reader.offline.trust import Trust, utcnow
from card_reader.offline_wire import (
    MAX_AMOUNT,
    NAME_PATTERN,
    OfflineProgramme,
    OfflineRedemption,
    SignedRedemption,
)
from card_reader.piv import Slot

log = logging.getLogger(__name__)

CHALLENGE_BYTES = 32

# Run work(connection, reader, present) on the card in the reader now, the result given
# out even if the card left after work returned (ReaderDaemon.with_card_committing).
CardAccess = Callable[[Callable[[Connection, str, Callable[[], bool]], Any]], Any]


@dataclass(frozen=True)
class RedeemRequest:
    """What the agent's screen asks for, PIN apart (that goes to the card only)."""

    programme: str
    purse: str
    amount: int
    category: str | None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RedeemRequest:
        """Refused `request_malformed` or `amount_invalid` for a body of the wrong shape."""
        programme, purse, category = data.get("programme"), data.get("purse"), \
            data.get("category")
        if not (isinstance(programme, str) and NAME_PATTERN.match(programme)
                and isinstance(purse, str) and NAME_PATTERN.match(purse)
                and (category is None or (isinstance(category, str)
                                          and NAME_PATTERN.match(category)))):
            raise Refused("request_malformed", "programme, purse or category of the wrong shape")
        amount = data.get("amount")
        if not isinstance(amount, int) or isinstance(amount, bool) \
                or not 0 < amount <= MAX_AMOUNT:
            raise Refused("amount_invalid", "the amount is a whole number of rupiah above 0")
        return cls(programme, purse, amount, category)


def local_day(timezone: str, at: dt.datetime) -> str:
    """The city's date at `at` (its caps count the city's days)."""
    try:
        zone: dt.tzinfo = zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        log.warning("unknown city timezone %r: counting days in UTC", timezone)
        zone = dt.UTC
    return at.astimezone(zone).date().isoformat()


def _verify(key: ec.EllipticCurvePublicKey, signature: bytes, digest: bytes) -> None:
    try:
        key.verify(signature, digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    except InvalidSignature as exc:
        raise Refused("signature_invalid", "the card's signature does not verify") from exc


def programme_for(trust: Trust, request: RedeemRequest) -> OfflineProgramme:
    """The bundle's offline purse for the request, or Refused `offline_not_allowed`."""
    found = next((p for p in trust.bundle.programmes
                  if (p.programme, p.purse) == (request.programme, request.purse)), None)
    if found is None or found.card_daily_cap <= 0 or found.agent_daily_cap <= 0:
        raise Refused("offline_not_allowed", "this purse is not redeemed offline")
    if request.category is not None and found.categories \
            and request.category not in found.categories:
        raise Refused("offline_not_allowed", "the purse does not buy this category")
    if request.category is None and found.categories:
        raise Refused("offline_not_allowed", "the purse needs the goods' category")
    return found


def check_caps(programme: OfflineProgramme, amount: int, spent: Spent) -> None:
    """Refused when this amount would take the card or the agent past the day's cap."""
    if spent.card + amount > programme.card_daily_cap:
        raise Refused("offline_card_cap_exceeded", "past the card's offline cap today",
                      cap=programme.card_daily_cap, spent=spent.card)
    if spent.agent + amount > programme.agent_daily_cap:
        raise Refused("offline_agent_cap_exceeded", "past this agent's offline cap today",
                      cap=programme.agent_daily_cap, spent=spent.agent)


class OfflineRedeemer:
    """`redeem(pin, request)` for the bridge's POST /offline/redeem."""

    def __init__(self, trust: Callable[[], Trust | None], queue: OfflineQueue,
                 card: CardAccess, online: Callable[[], bool],
                 queued: Callable[[], None]) -> None:
        self.trust = trust
        self.queue = queue
        self.card = card
        self.online = online
        self.queued = queued  # told after each redemption queued (the link event)

    def redeem(self, pin: OneTimePin, request: RedeemRequest) -> dict[str, Any]:
        """Queue one redemption signed by the card in the reader; Refused otherwise."""
        if self.online():
            raise Refused("link_online", "the hub is reachable: redeem online")
        trust = self.trust()
        if trust is None or not trust.ready():
            raise Refused("offline_not_ready", "no bundle, or its CRL is too old")
        programme = programme_for(trust, request)
        if request.amount > programme.max_redemption:
            raise Refused("amount_above_cap", "above the per-redemption cap",
                          cap=programme.max_redemption)

        def work(conn: Connection, reader: str,
                 present: Callable[[], bool]) -> tuple[OfflineRedemption, int]:
            return self._at_card(PivSession(conn), present, pin, trust, programme, request)

        redemption, card_left = self.card(work)
        log.info("offline redemption queued", extra={
            "event": "offline_queued", "key": redemption.key, "counter": redemption.counter,
            "programme": redemption.programme, "purse": redemption.purse,
            "amount": redemption.amount, "card_serial": redemption.card_serial})
        self.queued()
        return {"queued": True, "key": redemption.key, "counter": redemption.counter,
                "amount": redemption.amount, "programme": redemption.programme,
                "purse": redemption.purse, "redeemed_at": redemption.redeemed_at,
                "queued_count": self.queue.queued(), "card_left_today": card_left}

    def _at_card(self, card: PivSession, present: Callable[[], bool], pin: OneTimePin,
                 trust: Trust, programme: OfflineProgramme, request: RedeemRequest,
                 ) -> tuple[OfflineRedemption, int]:
        origin = trust.bundle.origin
        card.select()
        certificate = card.read_certificate(Slot.AUTHENTICATION)
        card.verify_pin(pin.take())
        now = utcnow().replace(microsecond=0)
        judged = trust.judge(certificate, now)
        nonce = os.urandom(CHALLENGE_BYTES)
        challenge = wire.signed_digest(origin, nonce)
        _verify(judged.public_key, card.sign_digest(Slot.AUTHENTICATION, challenge), challenge)
        day = local_day(trust.bundle.timezone, now)
        spent = self.queue.spent(day, request.programme, judged.serial_hex)
        check_caps(programme, request.amount, spent)
        redemption = OfflineRedemption(
            key=uuid.uuid4().hex, terminal=trust.bundle.terminal,
            counter=self.queue.next_counter(trust.bundle.counter),
            programme=request.programme, purse=request.purse, amount=request.amount,
            category=request.category, redeemed_at=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            card_serial=judged.serial_hex, crl_number=trust.crl_number)
        digest = redemption.digest(origin)
        signature = card.sign_digest(Slot.AUTHENTICATION, digest)
        _verify(judged.public_key, signature, digest)
        # The last moment a refusal is still true: once queued, the sale stands (the
        # screen must say so even if the card is pulled now, or it would be made twice).
        if not present():
            raise Refused("card_removed", "the card left before the redemption was kept")
        self.queue.enqueue(SignedRedemption(redemption, certificate, signature), day)
        return redemption, programme.card_daily_cap - spent.card - request.amount
