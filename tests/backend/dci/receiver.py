"""A peer's callback receiver, served over real HTTP in a thread: it keeps what it is
sent and answers as the standard's acknowledgement, or with the failures it is told to
give first (to see the sender retry)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from backend.dci.envelope import ack_body, new_id


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any
    raw: bytes


@dataclass
class Receiver:
    base: str = ""
    failures: int = 0  # answer 503 to this many posts first
    got: list[Received] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def app(self, environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        raw = request.get_data()
        with self.changed:
            if self.failures > 0:
                self.failures -= 1
                answer = Response("busy", status=503)
            else:
                self.got.append(Received(request.path, dict(request.headers),
                                         json.loads(raw or b"null"), raw))
                answer = Response(json.dumps(ack_body(new_id())), status=200,
                                  content_type="application/json")
            self.changed.notify_all()
        return answer(environ, start_response)

    def wait_for(self, path: str, count: int = 1, timeout: float = 60) -> list[Received]:
        """The posts to `path` once there are `count` of them (a state, not a time)."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while len(self.at(path)) < count and time.monotonic() < deadline:
                self.changed.wait(deadline - time.monotonic())
            return self.at(path)

    def at(self, path: str) -> list[Received]:
        return [r for r in self.got if r.path == path]


@contextmanager
def receiving() -> Iterator[Receiver]:
    receiver = Receiver()
    server = make_server("127.0.0.1", 0, receiver.app, threaded=True)
    receiver.base = f"http://127.0.0.1:{server.server_port}/dci"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        thread.join(10)
