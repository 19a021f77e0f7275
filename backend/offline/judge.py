"""The checks a synced offline redemption passes before it is posted, in this order.

Each failure is a refusal with its own reason (`Refused`), the same reasons the card
authentication gives where the check is the same:

1. signed for the calling terminal (`terminal_mismatch`);
2. its counter not already taken by another key at this terminal (`offline_counter_reused`);
3. the programme's purse redeemed offline, at this kind of shop, and the category one
   the purse buys (`offline_not_allowed`);
4. at most the per-redemption cap (`amount_above_cap`);
5. the certificate from a trusted issuing CA, valid when redeemed, for key 9A (as the
   token check: `certificate_untrusted`, `certificate_expired`, ...);
6. a card issued with this certificate (`card_unknown`);
7. the card's signature over what it was asked to sign (`signature_invalid`);
8. redeemed at most 5 minutes ahead of the hub's clock, while its CRL was in force
   (thisUpdate <= redeemed_at <= nextUpdate + the city's grace) and after this terminal
   was given that CRL (`offline_crl_stale`); all three with 5 minutes for the clocks.
   The last one is what stops a redemption dated into a past day to claim that day's
   caps again: a daemon's offline window starts when it last fetched its bundle;
9. the card on none of the CRLs this terminal had been given by then, that one or a
   newer one (`card_suspended`, `card_revoked`, `card_superseded`: the daemon saw it
   listed, or should have used the newer list; a change after those is the risk the
   caps bound);
10. the card's and the terminal's offline day caps, in the city's day of redeemed_at,
    counting the offline redemptions already accepted (`offline_card_cap_exceeded`,
    `offline_agent_cap_exceeded`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.cards.authentication import ECDSA_SHA256, STATUS_REASONS
from backend.cards.chain import CardCertificate, CertificateRefused
from backend.cards.models import Card, PublishedCrl
from backend.cards.store import as_utc
from backend.ledger.settlement import day_bounds
from backend.offline.bundle import redeems_here, terminal_category
from backend.offline.models import OfflineCrlServed, OfflineRedemptionRow
from backend.offline.programmes import offline_purse
from backend.reasons import Reason
from backend.services import ServiceModule
from card_reader.offline_wire import OfflineProgramme, OfflineRedemption, SignedRedemption

ROWS = OfflineRedemptionRow.__table__
SERVED = OfflineCrlServed.__table__
CARDS = Card.__table__
OFFLINE_KEY = "9A"  # the card signs a redemption with its PIN key only
CLOCK_SKEW = dt.timedelta(minutes=5)
CRL_REASONS = {x509.ReasonFlags.certificate_hold: Reason.CARD_SUSPENDED,
               x509.ReasonFlags.superseded: Reason.CARD_SUPERSEDED}
ACCEPTED = ("posted", "shortfall")  # the statuses of ACCEPTED_WHERE (the unique index)


class Refused(Exception):
    """A redemption the hub will not post; `reason` is what the result says."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Item:
    """One redemption of a batch, read and its certificate inspected (`api.read_batch`)."""

    signed: SignedRedemption
    certificate: CardCertificate
    redeemed_at: dt.datetime  # UTC
    signed_sha256: str  # SHA-256 of the bytes the card's signature covers

    @property
    def redemption(self) -> OfflineRedemption:
        return self.signed.redemption


@dataclass(frozen=True)
class Accepted:
    """What a redemption that passed every check is posted with."""

    module: ServiceModule
    terms: OfflineProgramme
    card_id: int
    citizen_id: int


@dataclass(frozen=True)
class Settings:
    terminal_id: str
    origin: str
    grace: dt.timedelta
    zone: str
    now: dt.datetime


def judge(sess: Session, item: Item, modules: dict[str, ServiceModule],
          settings: Settings) -> Accepted:
    """The first refusal in the promised order (`Refused`), or what to post."""
    red = item.redemption
    if red.terminal != settings.terminal_id:
        raise Refused(Reason.TERMINAL_MISMATCH, "signed for another terminal")
    _counter_free(sess, settings.terminal_id, red.counter, red.key)
    module, terms = _offline_terms(sess, modules, red, settings.terminal_id)
    if red.amount > terms.max_redemption:
        raise Refused(Reason.AMOUNT_ABOVE_CAP,
                      f"one offline redemption is at most {terms.max_redemption}")
    try:
        item.certificate.check(OFFLINE_KEY, item.redeemed_at)
    except CertificateRefused as exc:
        raise Refused(exc.reason, exc.detail) from exc
    card = _card(sess, item)
    _signature(item, settings.origin)
    crl = _crl_window(sess, red.crl_number, item.redeemed_at, settings)
    for held in _held_by_then(sess, crl, item.redeemed_at, settings.terminal_id):
        _not_listed(held, item.certificate)
    _caps(sess, terms, settings, card.id, item.redeemed_at, red.amount)
    return Accepted(module, terms, card.id, card.citizen_id)


def _counter_free(sess: Session, terminal_id: str, counter: int, key: str) -> None:
    other = sess.execute(select(ROWS.c.key).where(
        ROWS.c.terminal_id == terminal_id, ROWS.c.counter == counter, ROWS.c.key != key,
        ROWS.c.status.in_(ACCEPTED)).limit(1)).first()
    if other is not None:
        raise Refused(Reason.OFFLINE_COUNTER_REUSED,
                      f"counter {counter} was used by another redemption of this terminal")


def _offline_terms(sess: Session, modules: dict[str, ServiceModule], red: OfflineRedemption,
                   terminal_id: str) -> tuple[ServiceModule, OfflineProgramme]:
    module = modules.get(red.programme)
    terms = offline_purse(module, red.purse) if module is not None else None
    if module is None or terms is None:
        raise Refused(Reason.OFFLINE_NOT_ALLOWED,
                      f"{red.programme} {red.purse} is not redeemed offline")
    if terms.categories and red.category not in terms.categories:
        raise Refused(Reason.OFFLINE_NOT_ALLOWED,
                      f"{red.purse} credit does not buy {red.category or 'uncategorised goods'}")
    if not redeems_here(terms, module, terminal_category(sess, terminal_id)):
        raise Refused(Reason.OFFLINE_NOT_ALLOWED,
                      f"{red.purse} credit is not redeemed at this kind of shop")
    return module, terms


def _card(sess: Session, item: Item) -> Any:
    # Locked: two agents syncing the same card's redemptions count each other's (cap).
    card = sess.execute(select(CARDS.c.id, CARDS.c.citizen_id).where(
        CARDS.c.cert_9a_sha256 == item.certificate.sha256).with_for_update()).first()
    if card is None or int(item.redemption.card_serial, 16) != int(
            item.certificate.serial_hex, 16):
        raise Refused(Reason.CARD_UNKNOWN, "no card was issued with this certificate")
    return card


def _signature(item: Item, origin: str) -> None:
    key = item.certificate.public_key
    assert key is not None  # a certificate with a usable key passed check()
    try:
        key.verify(item.signed.signature, item.redemption.digest(origin), ECDSA_SHA256)
    except (InvalidSignature, ValueError) as exc:
        raise Refused(Reason.SIGNATURE_INVALID,
                      "the card's signature does not verify") from exc


def _crl_window(sess: Session, number: int, at: dt.datetime, settings: Settings
                ) -> PublishedCrl:
    if at > settings.now + CLOCK_SKEW:
        raise Refused(Reason.OFFLINE_CRL_STALE, "redeemed in the future of the hub's clock")
    crl = sess.get(PublishedCrl, number)
    if crl is None:
        raise Refused(Reason.OFFLINE_CRL_STALE, f"the hub published no CRL number {number}")
    if not (as_utc(crl.this_update) - CLOCK_SKEW <= at
            <= as_utc(crl.next_update) + settings.grace + CLOCK_SKEW):
        raise Refused(Reason.OFFLINE_CRL_STALE,
                      f"redeemed outside CRL {number}'s time (and its grace)")
    served = sess.execute(select(SERVED.c.first_served_at).where(
        SERVED.c.terminal_id == settings.terminal_id, SERVED.c.crl_number == number)).scalar()
    if served is None or at < as_utc(served) - CLOCK_SKEW:
        raise Refused(Reason.OFFLINE_CRL_STALE,
                      f"redeemed before this terminal was given CRL {number}")
    return crl


def _held_by_then(sess: Session, crl: PublishedCrl, at: dt.datetime, terminal_id: str
                  ) -> list[PublishedCrl]:
    """The redemption's CRL and every newer one this terminal was given before it."""
    newer = sess.execute(select(PublishedCrl).join(
        SERVED, SERVED.c.crl_number == PublishedCrl.number).where(
        SERVED.c.terminal_id == terminal_id, SERVED.c.crl_number > crl.number,
        SERVED.c.first_served_at <= stored_time(sess, at - CLOCK_SKEW))).scalars()
    return [crl, *newer]


_LISTED: OrderedDict[tuple[int, bytes], dict[int, x509.ReasonFlags | None]] = OrderedDict()
_LISTED_LOCK = threading.Lock()


def listed(crl: PublishedCrl) -> dict[int, x509.ReasonFlags | None]:
    """The CRL's serials and reasons, parsed once per CRL (a CRL never changes)."""
    key = (crl.number, hashlib.sha256(crl.der).digest())
    with _LISTED_LOCK:
        found = _LISTED.get(key)
    if found is not None:
        return found
    entries: dict[int, x509.ReasonFlags | None] = {}
    for revoked in x509.load_der_x509_crl(crl.der):
        try:
            reason = revoked.extensions.get_extension_for_class(x509.CRLReason).value.reason
        except x509.ExtensionNotFound:
            reason = None
        entries[revoked.serial_number] = reason
    with _LISTED_LOCK:
        _LISTED[key] = entries
        while len(_LISTED) > 4:
            _LISTED.popitem(last=False)
    return entries


def _not_listed(crl: PublishedCrl, cert: CardCertificate) -> None:
    serial = int(cert.serial_hex, 16)
    entries = listed(crl)
    if serial in entries:
        reason = CRL_REASONS.get(entries[serial], Reason.CARD_REVOKED)  # type: ignore[arg-type]
        status = {v: k for k, v in STATUS_REASONS.items()}[reason]
        raise Refused(reason, f"the card was {status} on CRL {crl.number}")


def local_day(at: dt.datetime, zone: str) -> tuple[dt.datetime, dt.datetime]:
    """The city's day holding `at`, as UTC instants [start, end)."""
    return day_bounds(at.astimezone(ZoneInfo(zone)).date(), zone)


def stored_time(sess: Session, at: dt.datetime) -> dt.datetime:
    """SQLite keeps naive UTC text: compare with naive UTC there."""
    if sess.get_bind().dialect.name == "sqlite":
        return at.astimezone(dt.UTC).replace(tzinfo=None)
    return at


def _spent(sess: Session, start: dt.datetime, end: dt.datetime, *where: Any) -> int:
    return int(sess.execute(select(func.coalesce(func.sum(ROWS.c.amount), 0)).where(
        *where, ROWS.c.status.in_(ACCEPTED), ROWS.c.redeemed_at >= stored_time(sess, start),
        ROWS.c.redeemed_at < stored_time(sess, end))).scalar_one())


def _caps(sess: Session, terms: OfflineProgramme, settings: Settings, card_id: int,
          at: dt.datetime, amount: int) -> None:
    start, end = local_day(at, settings.zone)
    same = (ROWS.c.programme == terms.programme,)
    card = _spent(sess, start, end, ROWS.c.card_id == card_id, *same)
    if card + amount > terms.card_daily_cap:
        raise Refused(Reason.OFFLINE_CARD_CAP_EXCEEDED,
                      f"this card may redeem {terms.card_daily_cap} offline a day; "
                      f"{card} is accepted already")
    agent = _spent(sess, start, end, ROWS.c.terminal_id == settings.terminal_id, *same)
    if agent + amount > terms.agent_daily_cap:
        raise Refused(Reason.OFFLINE_AGENT_CAP_EXCEEDED,
                      f"this terminal may redeem {terms.agent_daily_cap} offline a day; "
                      f"{agent} is accepted already")
