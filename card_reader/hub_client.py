"""The daemon's HTTP client to the hub: terminal sign-in, challenge, card token, logout.

The terminal signs in with OAuth2 client credentials (Authlib fetches a new token
when the old one expires); card sessions are separate bearer tokens the hub hands
back for a card. Every call has a timeout, and a refusal arrives as HubRefusal with
the hub's machine-readable reason, never as a string to parse.

A hub whose database is restarting answers 503 with Retry-After (its pooled
connections fail once before it reconnects); challenge and token are retried a
couple of times after that short wait, so a tap at that moment still succeeds. Both
are safe to repeat: a 503 means the hub's transaction did not commit, and a nonce can
be spent only once anyway.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.requests_client import OAuth2Session

from card_reader import wire

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0
UNAVAILABLE_RETRIES = 2  # further tries after a 503
MAX_RETRY_WAIT = 1.0  # seconds, whatever Retry-After says: a tap should not hang


class HubError(Exception):
    """The hub could not give an answer (network, 5xx, or an answer of the wrong shape)."""

    reason = "hub_unavailable"


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


def _retry_wait(resp: requests.Response) -> float:
    try:
        seconds = float(resp.headers.get("Retry-After", "0.2"))
    except ValueError:  # an HTTP date: not worth parsing for a one-second cap
        seconds = MAX_RETRY_WAIT
    return min(max(seconds, 0.0), MAX_RETRY_WAIT)


class HubClient:
    """One terminal's connection to one hub."""

    def __init__(self, base_url: str, client_id: str, client_secret: str, scope: str = "kiosk",
                 timeout: float = DEFAULT_TIMEOUT,
                 token_auth_method: str = "client_secret_basic",  # noqa: S107 - a method name
                 ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
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
        try:
            return dict(self._oauth.fetch_token(timeout=self.timeout))
        except AuthlibBaseError as exc:
            raise HubRefusal(exc.error or "invalid_client", exc.description or "") from exc
        except requests.RequestException as exc:
            raise HubError(f"token request failed: {exc}") from exc

    def _terminal_post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        if not self._oauth.token:
            self.sign_in()
        for attempt in range(UNAVAILABLE_RETRIES + 1):
            try:
                resp = self._oauth.post(self.base_url + path, json=body or {},
                                        timeout=self.timeout)
            except AuthlibBaseError as exc:  # the automatic token renewal was refused
                raise HubRefusal(exc.error or "invalid_client", exc.description or "") from exc
            except requests.RequestException as exc:
                raise HubError(f"POST {path} failed: {exc}") from exc
            if resp.status_code != 503 or attempt == UNAVAILABLE_RETRIES:
                break
            log.info("hub unavailable on POST %s, retrying", path)
            time.sleep(_retry_wait(resp))
        return self._json(resp, path)

    @staticmethod
    def _json(resp: requests.Response, path: str) -> Any:
        if resp.status_code >= 400:
            raise _refusal_from(resp)
        try:
            return resp.json()
        except ValueError as exc:
            raise HubError(f"POST {path}: not JSON") from exc

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
        try:
            resp = self._plain.post(self.base_url + wire.PATH_LOGOUT, json={},
                                    headers={"Authorization": f"Bearer {session_token}"},
                                    timeout=self.timeout)
        except requests.RequestException as exc:
            raise HubError(f"logout failed: {exc}") from exc
        if resp.status_code >= 400:
            raise _refusal_from(resp)
