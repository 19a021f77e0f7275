"""An agent daemon's offline mode, assembled: what `satukartu reader` starts for an
agent terminal, and what the bridge's `/offline` routes call."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

from card_reader.daemon import OneTimePin, ReaderDaemon, Sink
from card_reader.hub_client import HubClient
from card_reader.offline.link import DEFAULT_INTERVAL, Link
from card_reader.offline.queue import OfflineQueue
from card_reader.offline.redeem import OfflineRedeemer, RedeemRequest, local_day
from card_reader.offline.trust import BundleStore


def default_offline_dir(client_id: str) -> Path:
    """$XDG_STATE_HOME (or ~/.local/state)/satukartu/offline-<client id>."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"),
                                                             ".local", "state")
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in client_id)
    return Path(base) / "satukartu" / f"offline-{safe}"


class OfflineMode:
    """The bundle, the queue and the link of one agent terminal, in `directory`.

    Made before the daemon (the daemon asks `online` on each insertion), attached to
    it with `attach` (the redemption needs its card lock), then `start`ed.
    """

    def __init__(self, hub: HubClient, directory: Path, publish: Sink,
                 interval: float = DEFAULT_INTERVAL) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.publish = publish
        self.queue = OfflineQueue(self.directory)
        self.link = Link(hub, BundleStore(self.directory), self.queue, publish, interval)
        self._redeemer: OfflineRedeemer | None = None
        self._card_present = lambda: False

    @property
    def online(self) -> bool:
        return self.link.online

    def attach(self, daemon: ReaderDaemon) -> OfflineMode:
        self._redeemer = OfflineRedeemer(self.link.trust, self.queue,
                                         daemon.with_card_committing,
                                         lambda: self.link.online, self.link.changed)
        self._card_present = daemon.card_present
        return self

    def start(self) -> OfflineMode:
        self.link.start()
        return self

    def stop(self) -> None:
        self.link.stop()
        self.queue.close()

    def status(self) -> dict[str, Any]:
        """The `link` object of the bridge's state."""
        return self.link.status()

    def overview(self) -> dict[str, Any]:
        """The bridge's GET /offline: the link, what may be redeemed, today's total."""
        trust = self.link.trust()
        programmes = [p.to_dict() for p in trust.bundle.programmes] if trust else []
        spent = 0
        if trust is not None:
            day = local_day(trust.bundle.timezone, dt.datetime.now(dt.UTC))
            spent = self.queue.taken(day)  # every programme's, as the screen shows one sum
        return {**self.status(), "programmes": programmes, "agent_spent_today": spent,
                "card": self._card_present()}

    def redeem(self, pin: OneTimePin, request: dict[str, Any]) -> dict[str, Any]:
        """The bridge's POST /offline/redeem (PIN already boxed); Refused otherwise."""
        if self._redeemer is None:
            raise RuntimeError("offline mode not attached to a daemon")
        return self._redeemer.redeem(pin, RedeemRequest.from_dict(request))
