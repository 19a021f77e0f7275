"""The reader daemon (`card_reader.daemon.ReaderDaemon`) running against a live hub in
a thread of the test, with the events it shows on its screen collected in order."""

from __future__ import annotations

import threading
import time
from typing import Any

from card_reader.daemon import ReaderDaemon
from card_reader.hub_client import HubClient
from card_reader.pcsc import StatusWatcher


class RunningDaemon:
    """`ReaderDaemon` for one reader, signed in as one terminal."""

    def __init__(self, hub_url: str, client_id: str, client_secret: str, kind: str,
                 reader: str, pin: str | None = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.client = HubClient(hub_url, client_id, client_secret, scope=kind, timeout=10)
        self.daemon = ReaderDaemon(self.client, sink=self.events.append,
                                   pin_provider=lambda _reader: pin, reader=reader,
                                   watcher=StatusWatcher(
                                       accept=lambda name: name.startswith(reader),
                                       poll=0.5))
        self.thread = threading.Thread(target=self.daemon.run, name="reader-daemon",
                                       daemon=True)

    def __enter__(self) -> RunningDaemon:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.daemon.stop()
        self.thread.join(10)
        self.client.close()

    def wait_for(self, kind: str, after: int = 0, timeout: float = 30) -> tuple[int, dict]:
        """The first `kind` event at index `after` or later, and its index."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for index, event in enumerate(self.events[after:], start=after):
                if event["event"] == kind:
                    return index, event
            time.sleep(0.02)
        raise AssertionError(f"no {kind} event after #{after} in {timeout:.0f} s: "
                             f"{self.events}")
