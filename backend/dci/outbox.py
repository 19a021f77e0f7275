"""What we send: envelopes sealed with our DCI key, posted to a peer.

The key is the `dci` keyring's current key (backend.keys.purposes; rotated with
`satukartu keys rotate --purpose dci`), its id the keyring's; the JWKS at
`/dci/.well-known/jwks.json` publishes it and the retired ones.

The document has every endpoint, callbacks too, take a bearer token from the receiver's
own token endpoint. Our client credentials at each peer are in a file, not the
database (SATUKARTU_DCI_PEER_CREDENTIALS_FILE, read again when it changes); a token is
kept until shortly before it expires. A peer not listed there gets our signature only.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import requests

from backend.dci import jwks, signing
from backend.keys.purposes import keyring, store

PURPOSE = "dci"
TIMEOUT = (5, 30)  # connect, read (seconds)
EARLY = 30  # seconds before its expiry a token is fetched anew
_tokens: dict[tuple[str, str], tuple[str, float]] = {}  # (token_uri, client_id) -> token
_lock = threading.Lock()


class DeliveryFailed(Exception):
    """The peer did not take the message (network, or a non-2xx answer): retry later."""


def sender_id(config: Mapping[str, Any]) -> str:
    return str(config["DCI_SENDER_ID"])


def seal(config: Mapping[str, Any], header: dict[str, Any], message: dict[str, Any] | None
         ) -> dict[str, Any]:
    """The envelope, signed by our current key; without a message (a synchronous
    refusal) the signature covers `"message": null`."""
    private = store(config, PURPOSE).private(create=True)
    assert private is not None  # create=True makes it
    key_id = signing_key_id(config)
    signature = signing.sign(private, sender_id=sender_id(config), key_id=key_id,
                             header=header, message=message)
    body = {"signature": signature, "header": header}
    if message is not None:
        body["message"] = message
    return body


def signing_key_id(config: Mapping[str, Any]) -> str:
    current = keyring(config, PURPOSE).current
    assert current is not None  # the keyring makes its key on first use
    return current.key_id


def published(config: Mapping[str, Any]) -> dict[str, Any]:
    return jwks.publish(keyring(config, PURPOSE), sender_id(config))


def credentials(config: Mapping[str, Any], peer_id: str) -> dict[str, str] | None:
    """Our client credentials at `peer_id`, if the credentials file lists them."""
    name = str(config.get("DCI_PEER_CREDENTIALS_FILE") or "")
    if not name:
        return None
    try:
        listed = json.loads(Path(name).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DeliveryFailed(f"the peer credentials file cannot be read: {exc}") from exc
    entry = listed.get(peer_id) if isinstance(listed, dict) else None
    if not isinstance(entry, dict):
        return None
    if not all(isinstance(entry.get(k), str) and entry[k]
               for k in ("token_uri", "client_id", "client_secret")):
        raise DeliveryFailed(f"the peer credentials of {peer_id!r} need token_uri, "
                             "client_id and client_secret")
    return {k: entry[k] for k in ("token_uri", "client_id", "client_secret")}


def bearer(config: Mapping[str, Any], peer_id: str) -> dict[str, str]:
    """The Authorization header for a post to `peer_id`: a token of its own endpoint,
    fetched by client credentials and kept until EARLY seconds before it expires."""
    found = credentials(config, peer_id)
    if found is None:
        return {}
    key = (found["token_uri"], found["client_id"])
    with _lock:
        token, until = _tokens.get(key, ("", 0.0))
        if token and until > time.time():
            return {"Authorization": f"Bearer {token}"}
    try:
        answer = requests.post(found["token_uri"], data={"grant_type": "client_credentials"},
                               auth=(found["client_id"], found["client_secret"]),
                               timeout=TIMEOUT, allow_redirects=False)
        issued = answer.json() if answer.status_code == 200 else {}
    except (requests.RequestException, ValueError) as exc:
        raise DeliveryFailed(f"{found['token_uri']}: {exc.__class__.__name__}") from exc
    fresh = issued.get("access_token") if isinstance(issued, dict) else None
    if not isinstance(fresh, str) or not fresh:
        raise DeliveryFailed(f"{found['token_uri']}: no token (HTTP {answer.status_code})")
    lifetime = issued.get("expires_in")
    lifetime = lifetime if isinstance(lifetime, int) and lifetime > 0 else 300
    with _lock:
        _tokens[key] = (fresh, time.time() + max(lifetime - EARLY, 1))
    return {"Authorization": f"Bearer {fresh}"}


def post(url: str, body: dict[str, Any], headers: Mapping[str, str] | None = None) -> int:
    """POST the envelope; its HTTP status, or DeliveryFailed."""
    try:
        answer = requests.post(url, json=body, headers=dict(headers or {}), timeout=TIMEOUT,
                               allow_redirects=False)
    except requests.RequestException as exc:
        raise DeliveryFailed(f"{url}: {exc.__class__.__name__}") from exc
    if not 200 <= answer.status_code < 300:
        raise DeliveryFailed(f"{url}: HTTP {answer.status_code}")
    return answer.status_code


def deliver(config: Mapping[str, Any], peer_id: str, url: str, body: dict[str, Any]) -> int:
    """POST to a peer with its bearer token if we hold credentials there; a 401 drops
    that peer's kept token (only it: the others still hold), so the retry fetches a new one."""
    headers = bearer(config, peer_id)
    try:
        return post(url, body, headers)
    except DeliveryFailed as failed:
        if str(failed).endswith("HTTP 401"):
            forget(config, peer_id)
        raise


def forget(config: Mapping[str, Any], peer_id: str) -> None:
    """Drop the token kept for `peer_id`."""
    found = credentials(config, peer_id)
    if found is not None:
        with _lock:
            _tokens.pop((found["token_uri"], found["client_id"]), None)
