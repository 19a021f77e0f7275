"""A small HTTP hub speaking the wire format, for the daemon's tests (the real hub
lives in backend/ and has its own tests against the same wire module)."""

from __future__ import annotations

import base64
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from card_reader import offline_wire, wire

CLIENT_ID, CLIENT_SECRET = "kiosk-1", "s3cret"


class StubHub:
    def __init__(self) -> None:
        self.nonces: set[bytes] = set()
        self.revoked: set[int] = set()
        self.tap_locked: set[int] = set()  # 9E certificate serials whose taps are refused
        self.logouts: list[str] = []
        self.sessions: dict[str, str] = {}
        self.unavailable = 0  # answer this many more terminal calls with 503
        self.calls: list[str] = []
        self.request_ids: list[str | None] = []  # X-Request-Id of every POST, in order
        self.down = False  # the hub "stopped": its health check and every call say 503
        self.bundle: offline_wire.Bundle | None = None  # served to agents when set
        self.offline_posts = 0  # POSTs of offline redemptions, answered or not
        self.batches: list[list[dict]] = []  # offline batches answered 200, as sent
        self.results: dict[str, dict] = {}  # final result by key (repeatable)
        self.token = "terminal-token"  # the one it accepts; change it to void those held
        self.malformed: set[str] = set()  # keys whose batch is refused whole with a 400
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def reply(self, status: int, body: dict | None = None) -> None:
                raw = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def unavailable(self) -> None:  # as the hub answers while its database restarts
                raw = json.dumps({"error": {"reason": "service_unavailable",
                                            "message": "try again"}}).encode()
                self.send_response(503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Retry-After", "0")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def refuse(self, status: int, reason: str) -> None:
                self.reply(status, {"error": {"reason": reason, "message": reason}})

            def do_GET(self) -> None:
                if hub.down:
                    return self.unavailable()
                if self.path == "/api/v1/health":
                    return self.reply(200, {"status": "ok"})
                if self.headers.get("Authorization", "") != f"Bearer {hub.token}":
                    return self.refuse(401, "authentication_required")
                hub.calls.append("GET " + self.path)
                if self.path == offline_wire.PATH_OFFLINE_BUNDLE and hub.bundle is not None:
                    return self.reply(200, hub.bundle.to_dict())
                return self.refuse(404, "not_found")

            def offline_redemptions(self, data: dict) -> None:
                """Every item posted (each result final and repeatable by key)."""
                batch = data["redemptions"]
                if any(item["redemption"]["key"] in hub.malformed for item in batch):
                    return self.refuse(400, "redemption_malformed")  # as the hub: no results
                results = []
                for item in batch:
                    signed = offline_wire.SignedRedemption.from_dict(item)
                    key = signed.redemption.key
                    hub.results.setdefault(key, offline_wire.Result(
                        key, offline_wire.POSTED, paid=signed.redemption.amount,
                        entry_id=len(hub.results) + 1).to_dict())
                    results.append(hub.results[key])
                hub.batches.append(batch)
                return self.reply(200, {"results": results})

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if hub.down:
                    return self.unavailable()
                hub.request_ids.append(self.headers.get("X-Request-Id"))
                auth = self.headers.get("Authorization", "")
                if self.path == wire.PATH_TERMINAL_TOKEN:
                    expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
                    if auth != f"Basic {expected}":
                        return self.reply(401, {"error": "invalid_client"})
                    return self.reply(200, {"access_token": hub.token,
                                            "token_type": "Bearer", "expires_in": 300})
                if self.path == wire.PATH_LOGOUT:
                    hub.logouts.append(auth.removeprefix("Bearer "))
                    return self.reply(204)
                if auth != f"Bearer {hub.token}":
                    return self.refuse(401, "authentication_required")
                hub.calls.append(self.path)
                if self.path == offline_wire.PATH_OFFLINE_REDEMPTIONS:
                    hub.offline_posts += 1
                if hub.unavailable > 0:
                    hub.unavailable -= 1
                    return self.unavailable()
                if self.path == wire.PATH_CHALLENGE:
                    nonce = os.urandom(32)
                    hub.nonces.add(nonce)
                    return self.reply(200, wire.Challenge(nonce, "2099-01-01T00:00:00Z")
                                      .to_dict())
                if self.path == wire.PATH_CARD_TOKEN:
                    return self.card_token(json.loads(body))
                if self.path == offline_wire.PATH_OFFLINE_REDEMPTIONS:
                    return self.offline_redemptions(json.loads(body))
                return self.refuse(404, "not_found")

            def card_token(self, data: dict) -> None:
                try:
                    token = wire.CardToken.from_dict(data)
                except wire.WireError as exc:
                    return self.refuse(400, exc.reason)
                if token.nonce not in hub.nonces:
                    return self.refuse(400, "nonce_unknown")
                hub.nonces.discard(token.nonce)
                cert = x509.load_der_x509_certificate(token.certificate)
                if cert.serial_number in hub.revoked:
                    return self.refuse(403, "card_revoked")
                if token.key_ref == "9E" and cert.serial_number in hub.tap_locked:
                    return self.refuse(403, "tap_locked")
                digest = wire.signed_digest(hub.url, token.nonce)
                try:
                    cert.public_key().verify(token.signature, digest,
                                             ec.ECDSA(Prehashed(hashes.SHA256())))
                except Exception:
                    return self.refuse(403, "signature_invalid")
                session = f"session-{os.urandom(4).hex()}"
                hub.sessions[session] = token.key_ref
                return self.reply(200, wire.CardSession(
                    session, wire.ASSURANCE_BY_KEY[token.key_ref], f"{cert.serial_number:x}",
                    cert.subject.rfc4514_string(), "2099-01-01T00:00:00Z").to_dict())

        return Handler
