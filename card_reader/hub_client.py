"""The daemon's HTTP client to the hub: terminal sign-in, challenge, card token, logout,
and a desk's issuance jobs (claim, certify, activate, fail: backend/cards/desk.py).

The terminal signs in with OAuth2 client credentials (Authlib fetches a new token
when the old one expires); card sessions are separate bearer tokens the hub hands
back for a card. Every call has a timeout, and a refusal arrives as HubRefusal with
the hub's machine-readable reason, never as a string to parse.

A hub whose database is restarting answers 503 with Retry-After (its pooled
connections fail once before it reconnects); challenge and token are retried a
couple of times after that short wait, so a tap at that moment still succeeds. Both
are safe to repeat: a 503 means the hub's transaction did not commit, and a nonce can
be spent only once anyway.

Every call carries a fresh `X-Request-Id` and is logged with it (and its status and
time): the hub puts the same id in its own log lines and answers, so a refusal seen at
a kiosk can be found in the hub's log.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.requests_client import OAuth2Session

from card_reader import offline_wire, wire

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0
UNAVAILABLE_RETRIES = 2  # further tries after a 503
MAX_RETRY_WAIT = 1.0  # seconds, whatever Retry-After says: a tap should not hang
REQUEST_ID_HEADER = "X-Request-Id"
TOKEN_HEADERS = {"Accept": "application/json",  # Authlib's defaults, which headers replace
                 "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"}


def new_request_id() -> str:
    """One per HTTP request (a retry is a new request): uuid4, hex, as the hub makes its own."""
    return uuid.uuid4().hex


class HubError(Exception):
    """The hub could not give an answer (network, 5xx, or an answer of the wrong shape)."""

    reason = "hub_unavailable"
    request_id: str | None = None  # the call's X-Request-Id, to find it in the hub's log


class HubRefusal(HubError):
    """The hub said no; `reason` is one of the hub's reason codes (backend.reasons)."""

    def __init__(self, reason: str, message: str = "", status: int = 0) -> None:
        super().__init__(f"{reason}: {message}" if message else reason)
        self.reason = reason
        self.message = message
        self.status = status


def _refusal_from(resp: requests.Response) -> HubError:
    try:
        body = resp.json()
    except ValueError:
        body = None
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict) and isinstance(err.get("reason"), str):
        return HubRefusal(err["reason"], str(err.get("message", "")), resp.status_code)
    if isinstance(err, str):  # RFC 6749 token-endpoint errors: {"error": "invalid_client"}
        return HubRefusal(err, str(body.get("error_description", "")), resp.status_code)
    if 400 <= resp.status_code < 500:
        return HubRefusal(f"http_{resp.status_code}", resp.text[:200], resp.status_code)
    return HubError(f"hub answered HTTP {resp.status_code}")


def _tagged(error: HubError, request_id: str | None) -> HubError:
    error.request_id = request_id
    return error


def _log_call(path: str, request_id: str, started: float, status: int | str) -> None:
    """The kiosk's side of the hub's access line: the same request id."""
    log.info("hub call", extra={"event": "hub_call", "method": "POST", "path": path,
                                "status": status, "request_id": request_id,
                                "duration_ms": round((time.monotonic() - started) * 1000, 1)})


def _retry_wait(resp: requests.Response) -> float:
    try:
        seconds = float(resp.headers.get("Retry-After", "0.2"))
    except ValueError:  # an HTTP date: not worth parsing for a one-second cap
        seconds = MAX_RETRY_WAIT
    return min(max(seconds, 0.0), MAX_RETRY_WAIT)


class HubClient:
    """One terminal's connection to one hub."""

    def __init__(self, base_url: str, client_id: str, client_secret: str,
                 scope: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                 token_auth_method: str = "client_secret_basic",  # noqa: S107 - a method name
                 ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        # No scope asked (None): the hub grants the terminal's own kind, which `kind`
        # then reads from the token; a scope asked is refused unless it is that kind.
        self._oauth = OAuth2Session(
            client_id, client_secret, scope=scope,
            token_endpoint=self.base_url + wire.PATH_TERMINAL_TOKEN,
            token_endpoint_auth_method=token_auth_method, grant_type="client_credentials")
        self._plain = requests.Session()

    @property
    def origin(self) -> str:
        """What the card signs with the nonce: the hub's canonical URL as configured."""
        return self.base_url

    def close(self) -> None:
        self._oauth.close()
        self._plain.close()

    def sign_in(self) -> dict[str, Any]:
        """Fetch a terminal token now (later calls refresh it when it expires)."""
        request_id = new_request_id()
        started = time.monotonic()
        try:
            token = dict(self._oauth.fetch_token(
                timeout=self.timeout, headers={**TOKEN_HEADERS, REQUEST_ID_HEADER: request_id}))
        except AuthlibBaseError as exc:
            _log_call(wire.PATH_TERMINAL_TOKEN, request_id, started, exc.error or "refused")
            raise _tagged(HubRefusal(exc.error or "invalid_client", exc.description or ""),
                          request_id) from exc
        except requests.RequestException as exc:
            _log_call(wire.PATH_TERMINAL_TOKEN, request_id, started, type(exc).__name__)
            raise _tagged(HubError(f"token request failed: {exc}"), request_id) from exc
        _log_call(wire.PATH_TERMINAL_TOKEN, request_id, started, 200)
        return token

    @property
    def kind(self) -> str:
        """This terminal's kind, as the hub granted it in the token's scope (signs in if
        no token is held yet); for a daemon that was not told its kind."""
        if not self._oauth.token:
            self.sign_in()
        return str(self._oauth.token.get("scope", ""))

    def _terminal_post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        if not self._oauth.token:
            self.sign_in()
        for attempt in range(UNAVAILABLE_RETRIES + 1):
            request_id = new_request_id()
            started = time.monotonic()
            try:
                resp = self._oauth.post(self.base_url + path, json=body or {},
                                        timeout=self.timeout,
                                        headers={REQUEST_ID_HEADER: request_id})
            except AuthlibBaseError as exc:  # the automatic token renewal was refused
                _log_call(path, request_id, started, exc.error or "refused")
                raise _tagged(HubRefusal(exc.error or "invalid_client", exc.description or ""),
                              request_id) from exc
            except requests.RequestException as exc:
                _log_call(path, request_id, started, type(exc).__name__)
                raise _tagged(HubError(f"POST {path} failed: {exc}"), request_id) from exc
            _log_call(path, request_id, started, resp.status_code)
            if resp.status_code != 503 or attempt == UNAVAILABLE_RETRIES:
                break
            log.info("hub unavailable on POST %s, retrying", path)
            time.sleep(_retry_wait(resp))
        return self._json(resp, path, request_id)

    def _terminal_get(self, path: str) -> Any:
        """A GET with the terminal's token; no retry (the caller keeps what it had)."""
        if not self._oauth.token:
            self.sign_in()
        request_id = new_request_id()
        started = time.monotonic()
        try:
            resp = self._oauth.get(self.base_url + path, timeout=self.timeout,
                                   headers={REQUEST_ID_HEADER: request_id})
        except AuthlibBaseError as exc:
            _log_call(path, request_id, started, exc.error or "refused")
            raise _tagged(HubRefusal(exc.error or "invalid_client", exc.description or ""),
                          request_id) from exc
        except requests.RequestException as exc:
            _log_call(path, request_id, started, type(exc).__name__)
            raise _tagged(HubError(f"GET {path} failed: {exc}"), request_id) from exc
        _log_call(path, request_id, started, resp.status_code)
        return self._json(resp, path, request_id)

    def reachable(self, timeout: float = 2.0) -> bool:
        """Does the hub answer its liveness check now? For an agent's offline mode: a
        short timeout, no token, no retry, and never an exception."""
        try:
            resp = self._plain.get(self.base_url + PATH_HEALTH, timeout=timeout)
        except requests.RequestException:
            return False
        return resp.status_code == 200

    @staticmethod
    def _json(resp: requests.Response, path: str, request_id: str | None = None) -> Any:
        if resp.status_code >= 400:
            raise _tagged(_refusal_from(resp), request_id)
        try:
            return resp.json()
        except ValueError as exc:
            raise _tagged(HubError(f"POST {path}: not JSON"), request_id) from exc

    def challenge(self) -> wire.Challenge:
        """A fresh single-use nonce for this terminal."""
        try:
            return wire.Challenge.from_dict(self._terminal_post(wire.PATH_CHALLENGE))
        except wire.WireError as exc:
            raise HubError(f"challenge of the wrong shape: {exc}") from exc

    def authenticate_card(self, token: wire.CardToken) -> wire.CardSession:
        """Send the card's signed token; a CardSession or HubRefusal(reason)."""
        data = self._terminal_post(wire.PATH_CARD_TOKEN, token.to_dict())
        try:
            return wire.CardSession.from_dict(data)
        except wire.WireError as exc:
            raise HubError(f"session of the wrong shape: {exc}") from exc

    def logout(self, session_token: str) -> None:
        """End a card session (the card was removed); the session token is the bearer."""
        request_id = new_request_id()
        started = time.monotonic()
        try:
            resp = self._plain.post(self.base_url + wire.PATH_LOGOUT, json={},
                                    headers={"Authorization": f"Bearer {session_token}",
                                             REQUEST_ID_HEADER: request_id},
                                    timeout=self.timeout)
        except requests.RequestException as exc:
            _log_call(wire.PATH_LOGOUT, request_id, started, type(exc).__name__)
            raise _tagged(HubError(f"logout failed: {exc}"), request_id) from exc
        _log_call(wire.PATH_LOGOUT, request_id, started, resp.status_code)
        if resp.status_code >= 400:
            raise _tagged(_refusal_from(resp), request_id)

    # --- an agent's offline redemptions (card_reader/offline_wire.py) ---------------

    def offline_bundle(self) -> offline_wire.Bundle:
        """What this agent terminal keeps to redeem offline: CA chain, CRL, caps."""
        try:
            return offline_wire.Bundle.from_dict(
                self._terminal_get(offline_wire.PATH_OFFLINE_BUNDLE))
        except (offline_wire.OfflineWireError, TypeError, ValueError, KeyError) as exc:
            raise HubError(f"offline bundle of the wrong shape: {exc}") from exc

    def post_offline_redemptions(self, batch: list[dict[str, Any]],
                                 ) -> list[offline_wire.Result]:
        """Send queued redemptions (SignedRedemption dicts, at most MAX_BATCH); the
        hub's final result for each, in order, or HubError when it gave none."""
        data = self._terminal_post(offline_wire.PATH_OFFLINE_REDEMPTIONS,
                                   {"redemptions": batch})
        try:
            results = [offline_wire.Result.from_dict(r) for r in data["results"]]
        except (offline_wire.OfflineWireError, TypeError, KeyError) as exc:
            raise HubError(f"offline results of the wrong shape: {exc}") from exc
        if [r.key for r in results] != [item["redemption"]["key"] for item in batch]:
            raise HubError("offline results do not match the batch sent")
        return results

    # --- issuance at an enrolment desk (the hub's side: backend/cards/desk.py) ---------

    def claim_job(self) -> DeskJob | None:
        """This desk's next issuance job (a new attempt), or None when none waits."""
        data = self._terminal_post(PATH_DESK_CLAIM)
        job = data.get("job") if isinstance(data, dict) else None
        return None if job is None else DeskJob.from_dict(job)

    def certify_job(self, job_id: int, card_uuid: uuid.UUID,
                    public_keys: dict[str, bytes]) -> dict[str, bytes]:
        """The card's new public keys (DER SubjectPublicKeyInfo by key reference, "9A",
        "9E") certified by the hub's issuing CA: DER certificates by key reference."""
        data = self._terminal_post(desk_job_path(job_id, "certify"), {
            "card_uuid": str(card_uuid),
            "public_keys": {ref: wire.b64encode(der) for ref, der in public_keys.items()}})
        try:
            made = data["certificates"]
            return {ref: base64.b64decode(made[ref], validate=True) for ref in public_keys}
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise HubError(f"certificates of the wrong shape: {exc}") from exc

    def activate_job(self, job_id: int, card_uuid: uuid.UUID) -> dict[str, Any]:
        """The card is written; the hub records it. Safe to repeat (same answer)."""
        data = self._terminal_post(desk_job_path(job_id, "activate"),
                                   {"card_uuid": str(card_uuid)})
        if not isinstance(data, dict) or not isinstance(data.get("serial"), str):
            raise HubError("activation of the wrong shape")
        return data

    def fail_job(self, job_id: int, reason: str, card_uuid: uuid.UUID | None = None) -> None:
        """This attempt failed here; the job waits for the next blank card."""
        body: dict[str, Any] = {"reason": reason[:200] or "unspecified"}
        if card_uuid is not None:
            body["card_uuid"] = str(card_uuid)
        self._terminal_post(desk_job_path(job_id, "fail"), body)


PATH_DESK_CLAIM = f"{wire.API_PREFIX}/desk/jobs/claim"
PATH_HEALTH = f"{wire.API_PREFIX}/health"


def desk_job_path(job_id: int, step: str) -> str:
    return f"{wire.API_PREFIX}/desk/jobs/{int(job_id)}/{step}"


@dataclass(frozen=True)
class DeskJob:
    """A claimed issuance job: what this card gets. The management key is this card's
    alone and is kept only while the card is personalised (never shown in a repr)."""

    job_id: int
    attempt: int
    serial: str
    card_uuid: uuid.UUID
    expires_at: str
    holder_number: str
    holder_name: str
    pin_digits: int
    puk_digits: int
    pin_retries: int
    management_key: bytes = field(repr=False)

    @classmethod
    def from_dict(cls, data: Any) -> DeskJob:
        try:
            key = bytes.fromhex(data["management_key"])
            if data.get("management_algorithm", "AES128") != "AES128" or len(key) != 16:
                raise ValueError("not an AES-128 management key")
            return cls(job_id=int(data["job_id"]), attempt=int(data["attempt"]),
                       serial=str(data["serial"]), card_uuid=uuid.UUID(data["card_uuid"]),
                       expires_at=str(data["expires_at"]),
                       holder_number=str(data["holder"]["national_number"]),
                       holder_name=str(data["holder"]["full_name"]),
                       pin_digits=int(data["pin_digits"]), puk_digits=int(data["puk_digits"]),
                       pin_retries=int(data["pin_retries"]), management_key=key)
        except (KeyError, TypeError, ValueError) as exc:
            raise HubError(f"issuance job of the wrong shape: {exc}") from exc
