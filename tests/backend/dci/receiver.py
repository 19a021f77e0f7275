"""A peer's callback receiver, served over real HTTP in a thread: it keeps what it is
sent and answers as the standard's acknowledgement, or with the failures it is told to
give first (to see the sender retry). Like any SPDCI system it has a token endpoint
(client credentials CLIENT_ID/CLIENT_SECRET give TOKEN) and refuses a callback
without that token."""

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

CLIENT_ID, CLIENT_SECRET, TOKEN = "satukartu-at-peer", "peer-issued-secret", "peer-token-1"


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
    refusals: int = 0  # answer 401 to this many posts first (a token it no longer takes)
    tokens_issued: int = 0
    got: list[Received] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def app(self, environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        raw = request.get_data()
        if request.path == "/dci/oauth2/client/token":
            return self._token(request)(environ, start_response)
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return Response(json.dumps({"errors": [{"code": "err.request.unauthorized"}]}),
                            status=401, content_type="application/json")(
                                environ, start_response)
        with self.changed:
            if self.refusals > 0:
                self.refusals -= 1
                return Response("expired", status=401)(environ, start_response)
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

    def _token(self, request: Request) -> Response:
        auth = request.authorization
        if auth is None or (auth.username, auth.password) != (CLIENT_ID, CLIENT_SECRET):
            return Response('{"error": "invalid_client"}', status=401,
                            content_type="application/json")
        self.tokens_issued += 1
        return Response(json.dumps({"access_token": TOKEN, "token_type": "Bearer",
                                    "expires_in": 300}), content_type="application/json")

    def credentials(self, sender_id: str) -> dict[str, Any]:
        """The credentials file's entry for this receiver, as `sender_id`."""
        return {sender_id: {"token_uri": self.base + "/oauth2/client/token",
                            "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}}

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
