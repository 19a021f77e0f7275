"""The virtual card's link to vpcd, pcscd's virtual reader driver.

vpcd listens on TCP; the card connects as a client and the connection *is* the
card being in the reader. Frames are a 2-byte big-endian length and a payload; a
1-byte payload is a control code, anything else a command APDU. When vpcd goes
away (pcscd restarted) the card reconnects, as a card would be reinserted.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading

from card_reader.vcard.engine import CardEngine

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 35963
CTRL_OFF = 0
CTRL_ON = 1
CTRL_RESET = 2
CTRL_ATR = 4


class LinkClosed(Exception):
    pass


class VpcdLink:
    """Keeps one card connected to one vpcd slot until `stop()`."""

    def __init__(self, engine: CardEngine, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                 retry_interval: float = 0.2) -> None:
        self.engine = engine
        self.host = host
        self.port = port
        self.retry_interval = retry_interval
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self.connected = threading.Event()

    def stop(self) -> None:
        self._stop.set()
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def serve_forever(self) -> None:
        """Connect, serve, and reconnect until stopped; each connection is an insertion."""
        announced_wait = False
        while not self._stop.is_set():
            try:
                sock = socket.create_connection((self.host, self.port), timeout=2.0)
            except OSError as exc:
                if not announced_wait:
                    log.info("waiting for vpcd on %s:%d (%s)", self.host, self.port, exc)
                    announced_wait = True
                self._stop.wait(self.retry_interval)
                continue
            announced_wait = False
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sock = sock
            log.info("card inserted into vpcd on %s:%d", self.host, self.port)
            self.connected.set()
            try:
                self._serve(sock)
            except (OSError, LinkClosed) as exc:
                if not self._stop.is_set():
                    log.info("vpcd went away (%s); reconnecting", exc or "closed")
            finally:
                self.connected.clear()
                self._sock = None
                self.engine.power_off()
                sock.close()
            self._stop.wait(self.retry_interval)

    def _serve(self, sock: socket.socket) -> None:
        while not self._stop.is_set():
            length = int.from_bytes(self._recv_exact(sock, 2), "big")
            payload = self._recv_exact(sock, length) if length else b""
            if len(payload) == 1:
                reply = self._control(payload[0])
            elif payload:
                reply = self.engine.process(payload)
            else:
                reply = None
            if reply is not None:
                sock.sendall(len(reply).to_bytes(2, "big") + reply)

    def _control(self, code: int) -> bytes | None:
        if code == CTRL_ATR:
            return self.engine.atr
        if code == CTRL_ON:
            self.engine.power_on()
        elif code == CTRL_OFF:
            self.engine.power_off()
        elif code == CTRL_RESET:
            self.engine.reset()
        else:
            log.warning("unknown vpcd control code %d", code)
        return None

    @staticmethod
    def _recv_exact(sock: socket.socket, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            # vpcd writes the length and the APDU separately; without QUICKACK the
            # kernel's delayed ACK plus Nagle on vpcd's side costs ~40 ms per APDU.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise LinkClosed()
            buf += chunk
        return bytes(buf)
