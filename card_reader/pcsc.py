"""PC/SC through pyscard: the only module that imports `smartcard`.

Two things: a card connection that speaks T=1 and follows 61xx/6Cxx, and a
status-change watcher on SCardGetStatusChange. pyscard's own CardMonitor dies for
good when pcscd restarts; this watcher drops the context and establishes a new one,
watches the PnP pseudo-reader for readers coming and going, and reports insertions
and removals (a card that vanished and came back between two polls counts as both).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from smartcard import scard

log = logging.getLogger(__name__)

PNP_READER = "\\\\?PnP?\\Notification"
MAX_GET_RESPONSE = 64
CARD_IN_READER = 0x0004  # pcsc-lite's SCARD_PRESENT in SCardStatus (pyscard lacks it)
# pcscd learns of a removal when its driver next polls the reader (vpcd: every 400 ms),
# so a command cut short by the card leaving may fail before pcscd calls the card gone.
REMOVAL_SETTLE = 1.0

SERVICE_GONE = {
    scard.SCARD_E_NO_SERVICE,
    scard.SCARD_E_SERVICE_STOPPED,
    scard.SCARD_E_INVALID_HANDLE,
    scard.SCARD_F_COMM_ERROR,
}
CARD_GONE = {
    scard.SCARD_W_REMOVED_CARD,
    scard.SCARD_E_NO_SMARTCARD,
    scard.SCARD_W_UNPOWERED_CARD,
    scard.SCARD_W_UNRESPONSIVE_CARD,
    scard.SCARD_E_READER_UNAVAILABLE,
    scard.SCARD_E_UNKNOWN_READER,
    scard.SCARD_W_RESET_CARD,  # someone reset it: our login state is gone with it
    scard.SCARD_E_NO_READERS_AVAILABLE,
    *SERVICE_GONE,
}


class PcscError(Exception):
    def __init__(self, code: int, what: str) -> None:
        super().__init__(f"{what}: {scard.SCardGetErrorMessage(code)} (0x{code & 0xFFFFFFFF:08X})")
        self.code = code


class CardGoneError(PcscError):
    """The card (or its reader, or pcscd) went away; whatever was under way is lost."""


class CommandTimeout(PcscError):
    """A command took longer than the connection's per-command limit."""

    def __init__(self, seconds: float) -> None:
        Exception.__init__(self, f"card command took more than {seconds:.3f} s")
        self.code = 0


def _raise(code: int, what: str) -> None:
    if code == scard.SCARD_S_SUCCESS:
        return
    raise (CardGoneError if code in CARD_GONE else PcscError)(code, what)


def list_readers() -> list[str]:
    """Reader names known to pcscd now (empty when there are none)."""
    code, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    _raise(code, "SCardEstablishContext")
    try:
        code, readers = scard.SCardListReaders(ctx, [])
        if code == scard.SCARD_E_NO_READERS_AVAILABLE:
            return []
        _raise(code, "SCardListReaders")
        return list(readers)
    finally:
        scard.SCardReleaseContext(ctx)


def readers_with_card() -> list[str]:
    """Readers that hold a card now, in pcscd's order."""
    code, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    _raise(code, "SCardEstablishContext")
    try:
        code, readers = scard.SCardListReaders(ctx, [])
        if code == scard.SCARD_E_NO_READERS_AVAILABLE:
            return []
        _raise(code, "SCardListReaders")
        query = [(r, scard.SCARD_STATE_UNAWARE) for r in readers]
        code, states = scard.SCardGetStatusChange(ctx, 0, query)
        _raise(code, "SCardGetStatusChange")
        return [name for name, state, _ in states if state & scard.SCARD_STATE_PRESENT]
    finally:
        scard.SCardReleaseContext(ctx)


class PcscConnection:
    """A T=1 connection to the card in one reader, usable as a client Connection."""

    def __init__(self, reader: str, command_timeout: float = 5.0) -> None:
        self.reader = reader
        self.command_timeout = command_timeout
        code, self._ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        _raise(code, "SCardEstablishContext")
        code, self._card, protocol = scard.SCardConnect(
            self._ctx, reader, scard.SCARD_SHARE_SHARED, scard.SCARD_PROTOCOL_T1)
        if code != scard.SCARD_S_SUCCESS:
            scard.SCardReleaseContext(self._ctx)
            _raise(code, f"SCardConnect {reader}")
        self.protocol = protocol

    def transmit(self, apdu: bytes) -> bytes:
        """Send one APDU; follow 61xx with GET RESPONSE and 6Cxx with the right Le."""
        resp = self._transmit_once(apdu)
        if resp[-2] == 0x6C and len(apdu) >= 4:
            resp = self._transmit_once(apdu[:4] + self._with_le(apdu, resp[-1]))
        data = bytearray(resp[:-2])
        for _ in range(MAX_GET_RESPONSE):
            if resp[-2] != 0x61:
                break
            resp = self._transmit_once(bytes([apdu[0] & 0x0F, 0xC0, 0, 0, resp[-1]]))
            data += resp[:-2]
        return bytes(data) + resp[-2:]

    @staticmethod
    def _with_le(apdu: bytes, le: int) -> bytes:
        body = apdu[4:]
        if len(body) <= 1:
            return bytes([le])
        return body[: 1 + body[0]] + bytes([le])

    def _transmit_once(self, apdu: bytes) -> bytes:
        start = time.monotonic()
        code, resp = scard.SCardTransmit(self._card, scard.SCARD_PCI_T1, list(apdu))
        if code not in (scard.SCARD_S_SUCCESS, *CARD_GONE) and self._card_left():
            raise CardGoneError(code, "SCardTransmit")  # e.g. "transaction failed"
        _raise(code, "SCardTransmit")
        if len(resp) < 2:
            raise CardGoneError(scard.SCARD_F_COMM_ERROR, "SCardTransmit: short answer")
        if time.monotonic() - start > self.command_timeout:
            raise CommandTimeout(self.command_timeout)
        return bytes(resp)

    def _card_left(self) -> bool:
        """After a failed command: did the card leave the reader meanwhile?"""
        deadline = time.monotonic() + REMOVAL_SETTLE
        while True:
            code, _reader, status, _protocol, _atr = scard.SCardStatus(self._card)
            if code != scard.SCARD_S_SUCCESS or not status & CARD_IN_READER:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def same_card(self) -> bool:
        """Is the card this connection was made to still in the reader, never removed
        since (a card pulled and put back, or another card, answers False)?"""
        if self._card is None:
            return False
        code, _reader, status, _protocol, _atr = scard.SCardStatus(self._card)
        return code == scard.SCARD_S_SUCCESS and bool(status & CARD_IN_READER)

    def close(self, reset: bool = False) -> None:
        """Disconnect; `reset=True` also drops the card's login state."""
        if self._card is None:
            return
        disposition = scard.SCARD_RESET_CARD if reset else scard.SCARD_LEAVE_CARD
        scard.SCardDisconnect(self._card, disposition)
        scard.SCardReleaseContext(self._ctx)
        self._card = None

    def __enter__(self) -> PcscConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- watching readers ---------------------------------------------------------


@dataclass(frozen=True)
class ReaderEvent:
    """kind: inserted, removed, reader_added, reader_removed, service_lost, service_back."""

    kind: str
    reader: str = ""
    atr: bytes = b""


class StatusWatcher:
    """Yields ReaderEvents from SCardGetStatusChange until `stop()`; survives pcscd restarts."""

    def __init__(self, accept: Callable[[str], bool] | None = None, poll: float = 1.0,
                 retry_interval: float = 0.25) -> None:
        self.accept = accept or (lambda name: True)
        self.poll_ms = int(poll * 1000)
        self.retry_interval = retry_interval
        self._stop = threading.Event()
        self._ctx: int | None = None
        self._lock = threading.Lock()
        self.cards: dict[str, bytes] = {}  # readers with a card now -> ATR
        self._counters: dict[str, int] = {}

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            if self._ctx is not None:
                scard.SCardCancel(self._ctx)

    def events(self) -> Iterator[ReaderEvent]:
        states: dict[str, int] = {}
        lost = False
        while not self._stop.is_set():
            if self._ctx is None:
                code, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
                if code != scard.SCARD_S_SUCCESS:
                    self._stop.wait(self.retry_interval)
                    continue
                with self._lock:
                    self._ctx = ctx
                states = {PNP_READER: scard.SCARD_STATE_UNAWARE}
                states.update({r: scard.SCARD_STATE_UNAWARE for r in self._readers()})
                if lost:
                    lost = False
                    yield ReaderEvent("service_back")
            query = [(name, state) for name, state in states.items()]
            code, changed = scard.SCardGetStatusChange(self._ctx, self.poll_ms, query)
            if code in (scard.SCARD_E_TIMEOUT, scard.SCARD_E_CANCELLED):
                continue
            if code != scard.SCARD_S_SUCCESS:
                if code in (scard.SCARD_E_UNKNOWN_READER, scard.SCARD_E_READER_UNAVAILABLE):
                    yield from self._sync_readers(states)
                    continue
                log.warning("pcscd lost: %s", scard.SCardGetErrorMessage(code))
                self._drop_context()
                lost = True
                for reader in list(self.cards):
                    del self.cards[reader]
                    yield ReaderEvent("removed", reader)
                yield ReaderEvent("service_lost")
                self._stop.wait(self.retry_interval)
                continue
            readers_changed = False
            for name, event_state, atr in changed:
                states[name] = event_state & ~scard.SCARD_STATE_CHANGED
                if name == PNP_READER:
                    readers_changed = bool(event_state & scard.SCARD_STATE_CHANGED)
                    continue
                yield from self._card_events(name, event_state, bytes(atr))
            if readers_changed:
                yield from self._sync_readers(states)
        self._drop_context()

    def _card_events(self, reader: str, event_state: int, atr: bytes) -> Iterator[ReaderEvent]:
        present = bool(event_state & scard.SCARD_STATE_PRESENT) and not (
            event_state & (scard.SCARD_STATE_MUTE | scard.SCARD_STATE_UNAVAILABLE))
        known = reader in self.cards
        # pcsc-lite counts card events in the high word: a changed count while
        # present means the card was swapped between two polls.
        counter = event_state >> 16
        swapped = known and present and self._counters.get(reader, counter) != counter
        self._counters[reader] = counter
        if known and (not present or swapped):
            del self.cards[reader]
            yield ReaderEvent("removed", reader)
            known = False
        if present and not known:
            self.cards[reader] = atr
            yield ReaderEvent("inserted", reader, atr)

    def _readers(self) -> list[str]:
        code, readers = scard.SCardListReaders(self._ctx, [])
        if code != scard.SCARD_S_SUCCESS:
            return []
        return [r for r in readers if self.accept(r)]

    def _sync_readers(self, states: dict[str, int]) -> Iterator[ReaderEvent]:
        now = set(self._readers())
        before = set(states) - {PNP_READER}
        for reader in sorted(before - now):
            states.pop(reader, None)
            self._counters.pop(reader, None)
            if self.cards.pop(reader, None) is not None:
                yield ReaderEvent("removed", reader)
            yield ReaderEvent("reader_removed", reader)
        for reader in sorted(now - before):
            states[reader] = scard.SCARD_STATE_UNAWARE
            yield ReaderEvent("reader_added", reader)

    def _drop_context(self) -> None:
        with self._lock:
            ctx, self._ctx = self._ctx, None
        if ctx is not None:
            scard.SCardReleaseContext(ctx)
