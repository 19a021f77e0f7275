"""The agent's link to the hub, watched: online or not, the bundle kept fresh, the
queue sent when the hub answers.

One background thread. Every `interval` seconds it asks the hub's liveness check
(short timeout); the link is down after MISSES_TO_OFFLINE misses in a row (at start,
after one), up again at the first answer. While the hub answers the thread refreshes
the bundle (at start, when the link comes back, and every `refresh_every` seconds; a
failed refresh keeps the bundle held and is tried again after RETRY_REFRESH) and
sends the queue in batches, storing each final result. A network error, a 5xx, a 429
or a token refused leaves the rest queued, and the sync waits a backoff with jitter
(doubling up to MAX_SYNC_BACKOFF) before it tries again; the probe goes on at its
interval. Every result is final at the hub and repeatable by key, so a batch sent
twice (the answer was lost) posts nothing twice. A batch the hub refuses whole with
a 4xx is sent again one item at a time, and an item the hub refuses alone is set
aside (kept as refused, with the hub's reason, and logged): one bad item must not hold
back every redemption queued behind it. Each change of the link's state (online,
queued, syncing, offline_ready) goes to `publish` as a `link` event, for the screen.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from card_reader.hub_client import HubClient, HubError, HubRefusal
from card_reader.offline.queue import OfflineQueue
from card_reader.offline.trust import BundleStore, Trust
from card_reader.offline_wire import MAX_BATCH, REFUSED, Result

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 5.0
REFRESH_EVERY = 600.0
RETRY_REFRESH = 60.0  # after a failed refresh (the bundle held is kept meanwhile)
PROBE_TIMEOUT = 2.0
MISSES_TO_OFFLINE = 2  # one slow answer from a busy hub is not yet a partition
MAX_SYNC_BACKOFF = 60.0  # the longest wait between two failing syncs
TOKEN_REFUSED = (401, 403)  # our token, not the items: sign in again, keep them
# 4xx answers that say nothing about the items sent: the hub is busy (429), or this
# route is not (yet) where we post (404, 405), or the request timed out (408).
NOT_ABOUT_THE_ITEMS = (*TOKEN_REFUSED, 404, 405, 408, 429)


def rejects_the_items(exc: HubError) -> bool:
    """Did the hub refuse what was sent (a 4xx about the request's content), rather
    than fail to answer for now?"""
    return isinstance(exc, HubRefusal) and 400 <= exc.status < 500 \
        and exc.status not in NOT_ABOUT_THE_ITEMS


class Link:
    """The link's state and the thread that keeps it; `trust()` is the bundle held."""

    def __init__(self, hub: HubClient, store: BundleStore, queue: OfflineQueue,
                 publish: Callable[[dict[str, Any]], None],
                 interval: float = DEFAULT_INTERVAL, refresh_every: float = REFRESH_EVERY,
                 probe_timeout: float = PROBE_TIMEOUT) -> None:
        self.hub = hub
        self.store = store
        self.queue = queue
        self.publish = publish
        self.interval = interval
        self.refresh_every = refresh_every
        self.probe_timeout = probe_timeout
        self._misses = 0
        self._refresh_due = 0.0  # monotonic time of the next refresh
        self._sync_failures = 0  # failing syncs in a row
        self._sync_after = 0.0  # monotonic time before which the sync waits
        self._lock = threading.Lock()
        self._online = False
        self._syncing = False
        self._trust: Trust | None = None
        self._last: dict[str, Any] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        bundle = store.load()
        if bundle is not None:
            self._trust = self._parse(bundle)

    # --- what the daemon and the bridge read ----------------------------------------

    @property
    def online(self) -> bool:
        with self._lock:
            return self._online

    def trust(self) -> Trust | None:
        with self._lock:
            return self._trust

    def status(self) -> dict[str, Any]:
        """`online`, `queued`, `syncing`, `offline_ready`: the state's `link` object."""
        with self._lock:
            online, syncing, trust = self._online, self._syncing, self._trust
        return {"online": online, "queued": self.queue.queued(), "syncing": syncing,
                "offline_ready": trust is not None and trust.ready()}

    def changed(self) -> None:
        """Publish a `link` event if the state differs from the last one published."""
        status = self.status()
        with self._lock:
            if status == self._last:
                return
            self._last = status
            self.publish({"event": "link", **status})

    # --- the thread --------------------------------------------------------------------

    def start(self) -> Link:
        """One round now (the daemon starts knowing whether the hub answers), then the
        thread."""
        self.round()
        self._thread = threading.Thread(target=self._run, name="offline-link", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.round()
            except Exception:  # a bug: say so and keep watching
                log.exception("offline link round failed", extra={"event": "link_error"})

    def round(self) -> None:
        """Probe; when online, refresh the bundle if due and send the queue."""
        answered = self.hub.reachable(self.probe_timeout)
        self._misses = 0 if answered else self._misses + 1
        with self._lock:
            online = answered or (self._online and self._misses < MISSES_TO_OFFLINE)
            flipped = online != self._online
            self._online = online
        if flipped:
            log.info("link " + ("online" if online else "offline"),
                     extra={"event": "link_online" if online else "link_offline"})
        self.changed()
        if not online:
            return
        if flipped or time.monotonic() >= self._refresh_due:
            self._refresh_due = time.monotonic() + (
                self.refresh_every if self.refresh() else min(RETRY_REFRESH,
                                                              self.refresh_every))
        self.sync()

    def refresh(self) -> bool:
        """Fetch and keep a new bundle; False (the old one kept) when that failed."""
        try:
            bundle = self.hub.offline_bundle()
        except HubError as exc:
            log.warning("offline bundle not refreshed", extra={
                "event": "offline_bundle_failed", "error": str(exc)})
            return False
        trust = self._parse(bundle)
        if trust is None:
            return False
        try:
            self.store.save(bundle)
        except OSError as exc:
            log.warning("offline bundle not saved", extra={
                "event": "offline_bundle_failed", "error": str(exc)})
        with self._lock:
            self._trust = trust
        log.info("offline bundle refreshed", extra={
            "event": "offline_bundle", "crl_number": trust.crl_number,
            "programmes": len(bundle.programmes), "counter": bundle.counter})
        self.changed()
        return True

    @staticmethod
    def _parse(bundle: Any) -> Trust | None:
        try:
            return Trust(bundle)
        except ValueError as exc:
            log.warning("offline bundle unusable", extra={
                "event": "offline_bundle_failed", "error": str(exc)})
            return None

    def sync(self) -> int:
        """Send the queue in batches until it is empty or the hub fails (then wait a
        backoff); how many got their result."""
        if time.monotonic() < self._sync_after:
            return 0
        sent = 0
        batch = self.queue.pending(MAX_BATCH)
        if not batch:
            return 0
        with self._lock:
            self._syncing = True
        self.changed()
        try:
            while batch:
                try:
                    sent += self._send(batch)
                except HubError as exc:  # 5xx, network, 429, our token refused
                    self._back_off(exc, len(batch))
                    break
                self._sync_failures = 0
                batch = self.queue.pending(MAX_BATCH)
        finally:
            with self._lock:
                self._syncing = False
            self.changed()
        return sent

    def _send(self, batch: list[dict[str, Any]]) -> int:
        """Post one batch and keep its results; a batch refused whole with a 4xx is
        sent again item by item, and an item refused alone is set aside. Raises
        HubError when the hub gave no answer for now (the rest stays queued)."""
        try:
            results = self.hub.post_offline_redemptions(batch)
        except HubError as exc:
            if not rejects_the_items(exc):
                raise
            if len(batch) > 1:
                log.warning("offline batch refused, sending its items one by one", extra={
                    "event": "offline_batch_refused", "error": str(exc),
                    "items": len(batch)})
                return sum(self._send([item]) for item in batch)
            results = [self._set_aside(batch[0], exc)]
        self.queue.record(results)
        for result in results:
            log.info("offline redemption synced", extra={
                "event": "offline_synced", "key": result.key,
                "status": result.status, "reason": result.reason})
        self.changed()
        return len(results)

    @staticmethod
    def _set_aside(item: dict[str, Any], exc: HubError) -> Result:
        """An item the hub refused on its own: kept as refused, with the hub's reason,
        so that it is sent no more and what is behind it goes on."""
        key = str(item["redemption"]["key"])
        log.warning("offline redemption refused by the hub, set aside", extra={
            "event": "offline_set_aside", "key": key, "reason": exc.reason,
            "status": getattr(exc, "status", None), "error": str(exc)})
        return Result(key, REFUSED, reason=exc.reason)

    def _back_off(self, exc: HubError, queued: int) -> None:
        """Wait before the next sync: doubling from the probe's interval up to
        MAX_SYNC_BACKOFF, half of it random (terminals coming back together do not
        send together). A refused token is fetched again for the next try."""
        self._sync_failures += 1
        ceiling = min(MAX_SYNC_BACKOFF, self.interval * 2 ** min(self._sync_failures, 16))
        wait = ceiling / 2 + random.uniform(0, ceiling / 2)  # jitter, not a secret
        self._sync_after = time.monotonic() + wait
        log.warning("offline sync stopped, the rest stays queued", extra={
            "event": "offline_sync_failed", "error": str(exc), "queued": queued,
            "retry_in": round(wait, 1)})
        if isinstance(exc, HubRefusal) and exc.status in TOKEN_REFUSED:
            try:
                self.hub.sign_in()
            except HubError as again:
                log.warning("terminal sign-in failed", extra={
                    "event": "offline_sign_in_failed", "error": str(again)})
