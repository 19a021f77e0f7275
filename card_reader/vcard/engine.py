"""The card's transport layer: raw APDU bytes in, raw response bytes out.

Handles what is not PIV-specific and that clients rely on: command chaining
(aborted by any other command), Le honoured with 61xx + GET RESPONSE for long
answers, leftovers dropped by a new command, and the real-card delay profile.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from card_reader import piv as p
from card_reader.piv import CommandApdu, ResponseApdu
from card_reader.vcard.applet import PivApplet

log = logging.getLogger(__name__)

MAX_CHAIN_BYTES = 16384


def _atr(historical: bytes) -> bytes:
    """3B 8K 01 <historical> TCK: direct convention, T=1 only, no speed bytes."""
    body = bytes([0x80 | len(historical), 0x01]) + historical
    tck = 0
    for b in body:
        tck ^= b
    return b"\x3b" + body + bytes([tck])


# "SatuKartu PIV": matches no OpenSC driver's ATR table, so PIV's probe claims the card.
ATR = _atr(b"SatuKartuPIV")


@dataclass(frozen=True)
class DelayProfile:
    """Seconds to sleep before answering, so demos and benchmarks feel a real card."""

    sign: float = 0.0
    verify: float = 0.0
    generate: float = 0.0
    other: float = 0.0

    def for_command(self, cmd: CommandApdu) -> float:
        if cmd.ins == p.INS_GENERAL_AUTHENTICATE and cmd.p2 in (0x9A, 0x9C, 0x9D, 0x9E):
            return self.sign
        if cmd.ins in (p.INS_VERIFY, p.INS_CHANGE_REFERENCE, p.INS_RESET_RETRY) and cmd.data:
            return self.verify
        if cmd.ins == p.INS_GENERATE_ASYMMETRIC:
            return self.generate
        return self.other


DELAY_PROFILES = {
    "fast": DelayProfile(),
    # Measured on real PIV cards: P-256 signature ~72 ms, PIN verify ~9 ms, select ~1 ms.
    "real": DelayProfile(sign=0.072, verify=0.009, generate=0.25, other=0.001),
}


class CardEngine:
    """One card's APDU processor; not thread-safe (vpcd serialises commands)."""

    def __init__(self, applet: PivApplet, delays: DelayProfile | None = None,
                 atr: bytes = ATR) -> None:
        self.applet = applet
        self.delays = delays or DELAY_PROFILES["fast"]
        self.atr = atr
        self._pending = b""
        self._chain: tuple[int, int, int] | None = None
        self._chain_data = bytearray()

    def power_on(self) -> None:
        self.reset()

    def power_off(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._pending = b""
        self._abort_chain()
        self.applet.reset()

    def _abort_chain(self) -> None:
        self._chain = None
        self._chain_data = bytearray()

    def process(self, raw: bytes) -> bytes:
        """Answer one command APDU; never raises, always ends with a status word."""
        try:
            cmd = CommandApdu.parse(raw)
        except p.ApduFormatError as exc:
            self._pending = b""
            self._abort_chain()
            return exc.sw.to_bytes(2, "big")
        try:
            return self._process(cmd).encode()
        except Exception:  # a bug must not take the card off the reader
            log.exception("internal error on %s", raw[:4].hex())
            self._pending = b""
            self._abort_chain()
            return p.SW_UNKNOWN.to_bytes(2, "big")

    def _process(self, cmd: CommandApdu) -> ResponseApdu:
        if cmd.ins == p.INS_GET_RESPONSE and not cmd.chained:
            self._abort_chain()
            if not self._pending:
                return ResponseApdu(b"", p.SW_CONDITIONS_NOT_SATISFIED)
            return self._deliver(self._pending, p.SW_OK, cmd)
        self._pending = b""
        header = (cmd.ins, cmd.p1, cmd.p2)
        if self._chain is not None and self._chain != header:
            self._abort_chain()
        if cmd.chained:
            if len(self._chain_data) + len(cmd.data) > MAX_CHAIN_BYTES:
                self._abort_chain()
                return ResponseApdu(b"", p.SW_NOT_ENOUGH_MEMORY)
            self._chain = header
            self._chain_data += cmd.data
            return ResponseApdu()
        if self._chain is not None:
            data = bytes(self._chain_data) + cmd.data
            self._abort_chain()
            cmd = CommandApdu(cmd.cla, cmd.ins, cmd.p1, cmd.p2, data, cmd.le, cmd.extended)
        delay = self.delays.for_command(cmd)
        if delay:
            time.sleep(delay)
        response = self.applet.handle(cmd)
        if response.sw != p.SW_OK or not response.data:
            return response
        return self._deliver(response.data, response.sw, cmd)

    def _deliver(self, data: bytes, sw: int, cmd: CommandApdu) -> ResponseApdu:
        # No Le (yubico-piv-tool's GET DATA) counts as 256; short Le is at most 256.
        limit = cmd.le if cmd.le is not None else 256
        if not cmd.extended:
            limit = min(limit, 256)
        if len(data) <= limit:
            self._pending = b""
            return ResponseApdu(data, sw)
        self._pending = data[limit:]
        remaining = min(len(self._pending), 256) & 0xFF
        return ResponseApdu(data[:limit], p.SW_BYTES_REMAINING | remaining)
