"""A counter's PIN unblock at the card in this PC's reader (the bridge's `POST /unblock`)."""

from __future__ import annotations

import contextlib
import logging
import threading
import traceback

from card_reader import piv
from card_reader.daemon import OneTimePin, Refused
from card_reader.event_feed import EventFeed

log = logging.getLogger(__name__)


def _unblock_refusal(exc: Exception) -> Refused:
    """The stable reason for whatever stopped an unblock (a bug is raised as it is)."""
    from card_reader.pcsc import CardGoneError, PcscError

    if isinstance(exc, piv.InvalidPinError):
        return Refused("puk_invalid", "wrong PUK", attempts_remaining=exc.attempts_remaining)
    if isinstance(exc, piv.PinBlockedError):
        return Refused("puk_blocked", "the PUK is blocked")
    if isinstance(exc, piv.NotFoundError):
        return Refused("card_not_issued", "not a card of ours")
    if isinstance(exc, CardGoneError):
        return Refused("card_removed", "the card left during the unblock")
    if isinstance(exc, (PcscError, piv.PivError)):
        return Refused("reader_error", str(exc))
    raise exc


class ReaderUnblock:
    """RESET RETRY COUNTER on the card in the reader now: a counter's PIN unblock.

    The hub has already let the clerk vouch for the citizen; the card itself checks the
    PUK (and counts wrong ones), so the bridge only carries the citizen's digits from
    the page to the card, as it does the PIN. One unblock at a time; the card is reset
    after, so nothing later inherits a state from it. The daemon's card lock is its
    own: the daemon touches the card only as it comes in and for a PIN login, which a
    citizen at the unblock keypad is not doing.
    """

    def __init__(self, feed: EventFeed, command_timeout: float = 5.0) -> None:
        self.feed = feed
        self.command_timeout = command_timeout
        self._lock = threading.Lock()

    def __call__(self, puk: OneTimePin, new_pin: OneTimePin) -> None:
        from card_reader.client import PivSession
        from card_reader.pcsc import PcscConnection, PcscError

        reader = self.feed.state()["reader"]
        if reader is None:
            raise Refused("no_card", "no card in the reader")
        with self._lock:
            try:
                conn = PcscConnection(reader, self.command_timeout)
            except PcscError as exc:
                raise Refused("reader_error", str(exc)) from exc
            try:
                card = PivSession(conn)
                card.select()
                card.unblock_pin(puk.take(), new_pin.take())
            except Exception as exc:
                traceback.clear_frames(exc.__traceback__)  # the PUK was in those frames
                raise _unblock_refusal(exc) from None
            finally:
                with contextlib.suppress(PcscError):
                    conn.close(reset=True)
        log.info("PIN unblocked", extra={"event": "pin_unblocked", "reader": reader})
