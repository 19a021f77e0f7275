"""What we send: envelopes sealed with our DCI key, posted to a peer.

The key is the `dci` keyring's current key (backend.keys.purposes; rotated with
`satukartu keys rotate --purpose dci`), its id the keyring's; the JWKS at
`/dci/.well-known/jwks.json` publishes it and the retired ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from backend.dci import jwks, signing
from backend.keys.purposes import keyring, store

PURPOSE = "dci"
TIMEOUT = (5, 30)  # connect, read (seconds)


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


def post(url: str, body: dict[str, Any]) -> int:
    """POST the envelope; its HTTP status, or DeliveryFailed."""
    try:
        answer = requests.post(url, json=body, timeout=TIMEOUT, allow_redirects=False)
    except requests.RequestException as exc:
        raise DeliveryFailed(f"{url}: {exc.__class__.__name__}") from exc
    if not 200 <= answer.status_code < 300:
        raise DeliveryFailed(f"{url}: HTTP {answer.status_code}")
    return answer.status_code
