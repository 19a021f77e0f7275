"""The holder's tap lock: a citizen turns tap use of their card off, and on again.

The tap key (9E) signs without a PIN, so whoever holds the card can use it at a kiosk
or a gate. A citizen who would rather have every use need the PIN (a card often lost,
a pickpocketing district) locks the card for taps; the hub then refuses every tap
token with `tap_locked`, in the authentication's own statement (`authentication.py`),
so no event or cache stands between the lock and its effect. The PIN key (9A) still
opens sessions, and is the only way to unlock.

The rules live here, once, for the API (`POST /api/v1/auth/tap-lock`) and the kiosk's
page alike, because a screen adds no rule of its own:

- only the holder, through a card session opened with the PIN, at a kiosk or a
  counter: a tap proves that someone holds the card, not who, and so may neither lift
  a lock nor set one;
- only the session's own card, and only while it is active;
- locking ends the card's open tap sessions in the same transaction, so a tap session
  already open (a gate, a kiosk left signed in) stops working at once; the PIN session
  doing the locking goes on;
- a change is audited (`card.tap_lock`, `card.tap_unlock`) in the same transaction.
  Asking for the state the card is already in is a success that changes nothing and
  writes no record: the log says when the state changed, not how often it was asked.
- the lock belongs to the card, not the citizen: a new card, a replacement for a lost
  one too, starts unlocked, and the holder locks it again at a kiosk if they wish.

Callers own the transaction; nothing here commits.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from backend.audit import record
from backend.auth.principal import ASSURANCE_ORDER, CardContext, Principal
from backend.cards.lifecycle import get_card
from backend.cards.models import Card
from backend.cards.sessions import end_card_sessions
from backend.cards.store import utcnow
from backend.errors import ApiError
from backend.reasons import Reason

# Where a holder may lock or unlock: places with a PIN pad and a screen to confirm on.
TAP_LOCK_TERMINALS = ("kiosk", "counter")
END_REASON = "card_tap_locked"


def _holder(principal: Principal | None) -> CardContext:
    """The card session allowed to change the lock, or the refusal naming what is missing
    (the same reasons the API's guard gives, so a page calling this says the same)."""
    if principal is None or principal.kind != "card" or principal.card is None:
        raise ApiError(Reason.FORBIDDEN, "only the card's holder, in a card session, "
                       "may lock or unlock it", 403)
    if principal.terminal_kind not in TAP_LOCK_TERMINALS:
        raise ApiError(Reason.TERMINAL_KIND_NOT_ALLOWED,
                       f"a {principal.terminal_kind} terminal may not lock a card", 403)
    if ASSURANCE_ORDER.get(principal.card.assurance, 0) < ASSURANCE_ORDER["pin"]:
        raise ApiError(Reason.ASSURANCE_TOO_LOW,
                       "locking or unlocking taps needs the card's PIN", 403)
    return principal.card


def set_tap_lock(sess: Session, principal: Principal | None, locked: bool) -> bool:
    """Lock (`True`) or unlock the session's own card for taps; returns the new state.

    The card row is locked for the update, so two kiosks changing it at once take turns
    and each audits only a change it really made.
    """
    holder = _holder(principal)
    card = get_card(sess, holder.card_serial, lock=True)
    if card.status != "active":
        raise ApiError(Reason.CARD_STATE_INVALID, f"a {card.status} card cannot be "
                       f"{'locked' if locked else 'unlocked'}", 409,
                       {"serial": card.serial, "status": card.status})
    now = utcnow()
    ended = 0
    if locked:
        # Even when already locked: a tap session opened as the lock committed ends too.
        ended = end_card_sessions(sess.connection(), card.id, END_REASON, now,
                                  assurance="tap")
    if card.tap_locked == locked:
        return locked
    card.tap_locked = locked
    card.tap_locked_at = now if locked else None
    sess.flush()
    record(sess, action="card.tap_lock" if locked else "card.tap_unlock",
           subject_type="card", subject_id=card.serial, citizen_id=card.citizen_id,
           principal=principal, details={"session": holder.session_id,
                                         "tap_sessions_ended": ended})
    return locked


def tap_locked(sess: Session | Connection, card_serial: str) -> bool:
    """Whether the card is locked for taps (for a screen to show; `not_found` if no card)."""
    found = sess.execute(select(Card.tap_locked).where(Card.serial == card_serial)
                         ).scalar_one_or_none()
    if found is None:
        raise ApiError(Reason.NOT_FOUND, f"no card with serial {card_serial}", 404)
    return bool(found)
