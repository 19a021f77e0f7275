"""The daemon's events, fanned out to every page listening on the bridge's `/events`.

Each subscriber has a bounded queue: a page that stops reading is dropped rather than
letting the daemon's memory grow or its card thread wait; a page that connects gets
the current state first, so it never has to guess what happened before it came.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from typing import Any

from card_reader import wire

log = logging.getLogger(__name__)

QUEUE_SIZE = 64  # events a subscriber may lag behind before it is dropped
MAX_SUBSCRIBERS = 32
PROTOCOL_EVENTS = frozenset({"inserted", "session", "refused", "removed", "link"})
LINK_FIELDS = ("online", "queued", "syncing", "offline_ready")
SESSION_FIELDS = tuple(wire.CardSession.__dataclass_fields__)


def _frame(event: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(event, sort_keys=True).encode() + b"\n\n"


class Subscription:
    """One stream's bounded queue of encoded events; `closed` once dropped or stopped."""

    def __init__(self, first: bytes, size: int) -> None:
        self._queue: queue.Queue[bytes | None] = queue.Queue(size)
        self._queue.put_nowait(first)
        self.closed = False

    def offer(self, frame: bytes) -> bool:
        """Queue a frame; False when the subscriber lags too far behind."""
        try:
            self._queue.put_nowait(frame)
        except queue.Full:
            return False
        return True

    def get(self, timeout: float) -> bytes | None:
        """The next frame, or None after `timeout` seconds or once closed."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        """Mark closed and wake the reader (whatever it had not sent is dropped)."""
        self.closed = True
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._queue.put_nowait(None)


class EventFeed:
    """The daemon's events fanned out to every open stream, and the current state.

    The daemon calls it as a sink; it keeps the protocol's events only (the stdout
    sink has the rest). Each stream gets a bounded queue: a stream that falls
    `queue_size` events behind is dropped rather than slowing the daemon, and its
    page reconnects and starts again from the state.
    """

    def __init__(self, queue_size: int = QUEUE_SIZE,
                 max_subscribers: int = MAX_SUBSCRIBERS) -> None:
        self.queue_size = queue_size
        self.max_subscribers = max_subscribers
        self._lock = threading.Lock()
        self._cards: dict[str, dict[str, Any] | None] = {}  # reader -> session, in order
        self._link: dict[str, Any] | None = None  # an agent's offline mode only
        self._subscribers: list[Subscription] = []
        self._closed = False

    def __call__(self, event: dict[str, Any]) -> None:
        self.publish(event)

    def publish(self, event: dict[str, Any]) -> None:
        """Update the state from one daemon event and queue it for every stream."""
        kind = event.get("event")
        if kind not in PROTOCOL_EVENTS:
            return
        frame = _frame(event)
        with self._lock:
            reader = str(event.get("reader"))
            if kind == "inserted":
                self._cards.pop(reader, None)
                self._cards[reader] = None
            elif kind == "session":
                self._cards[reader] = {k: event.get(k) for k in SESSION_FIELDS}
            elif kind == "removed":
                self._cards.pop(reader, None)
            elif kind == "link":
                self._link = {k: event.get(k) for k in LINK_FIELDS}
            for subscriber in list(self._subscribers):
                if not subscriber.offer(frame):
                    log.info("event stream dropped: too far behind",
                             extra={"event": "bridge_stream_dropped"})
                    self._drop(subscriber)

    def state(self) -> dict[str, Any]:
        """The `state` event: is a card in, and its session (the latest card's); with
        an agent's offline mode, the `link` too (from the latest `link` event)."""
        with self._lock:
            return self._state()

    def _state(self) -> dict[str, Any]:
        link = {} if self._link is None else {"link": dict(self._link)}
        if not self._cards:
            return {"event": "state", "card": False, "reader": None, "session": None, **link}
        reader, session = next(reversed(self._cards.items()))
        return {"event": "state", "card": True, "reader": reader, "session": session, **link}

    def subscribe(self) -> Subscription | None:
        """A new stream starting with the state; None when closed or full."""
        with self._lock:
            if self._closed or len(self._subscribers) >= self.max_subscribers:
                return None
            subscriber = Subscription(_frame(self._state()), self.queue_size)
            self._subscribers.append(subscriber)
            return subscriber

    def unsubscribe(self, subscriber: Subscription) -> None:
        with self._lock:
            self._drop(subscriber)

    def _drop(self, subscriber: Subscription) -> None:
        if subscriber in self._subscribers:
            self._subscribers.remove(subscriber)
        subscriber.close()

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def close(self) -> None:
        """End every stream; later subscriptions are refused."""
        with self._lock:
            self._closed = True
            for subscriber in list(self._subscribers):
                self._drop(subscriber)
