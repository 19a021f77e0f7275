"""A registered SPDCI peer, its token and its signing key; and the standard's document,
to validate every request and answer against (openapi-core)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from flask.testing import FlaskClient
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from backend.db import session
from backend.dci import envelope, jwks, peers, signing, spec
from backend.dci.models import DciPeer
from backend.tasks import celery_init_app

BASE = "https://hub.test"
SENDER = "peer-registry"
KEY_ID = "k1"


@pytest.fixture(scope="session")
def openapi() -> OpenAPI:
    return OpenAPI.from_dict(spec.document(BASE + spec.BASE_PATH))


@dataclass
class Peer:
    row: DciPeer
    client_id: str
    secret: str
    key: Ed25519PrivateKey
    token: str = ""

    def sign(self, header: dict[str, Any], message: dict[str, Any]) -> str:
        return signing.sign(self.key, sender_id=self.row.sender_id, key_id=KEY_ID,
                            header=header, message=message)

    def envelope(self, action: str, message: dict[str, Any], **header: Any) -> dict[str, Any]:
        made = envelope.request_header(action, sender_id=self.row.sender_id,
                                       receiver_id="satukartu",
                                       total_count=header.pop("total_count", 1))
        made.update(header)
        return {"signature": self.sign(made, message), "header": made, "message": message}


def make_peer(client: FlaskClient, *, sender_id: str = SENDER,
              callback_uri: str = "https://peer.test/dci",
              scope: str = "dci.person dci.household") -> Peer:
    key = Ed25519PrivateKey.generate()
    published = {"keys": [jwks.public_jwk(key.public_key(), KEY_ID)]}
    row, secret = peers.add(session(), sender_id=sender_id, name="Peer registry",
                            callback_uri=callback_uri, scope=scope,
                            jwks_document=json.dumps(published))
    session().commit()
    made = Peer(row, row.client_id, secret, key)
    answer = client.post("/dci/oauth2/client/token", base_url=BASE, data={
        "grant_type": "client_credentials", "client_id": made.client_id,
        "client_secret": secret})
    assert answer.status_code == 200, answer.get_json()
    made.token = answer.get_json()["access_token"]
    return made


@pytest.fixture
def memory_queue(app: Flask) -> Any:
    """Tasks sent by the views go to an in-memory broker nobody consumes (tests that
    need a worker use their own queue on a real broker)."""
    app.config.update(BROKER_URL="memory://", RESULT_BACKEND="cache+memory://")
    return celery_init_app(app)


@pytest.fixture
def peer(app: Flask, client: FlaskClient, memory_queue: Any) -> Peer:
    return make_peer(client)


class Checked:
    """Sends a request through the test client, validating it and its answer against
    the standard's document."""

    def __init__(self, client: FlaskClient, openapi: OpenAPI) -> None:
        self.client = client
        self.openapi = openapi

    def post(self, path: str, body: Any, token: str | None, *, valid_request: bool = True,
             **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        builder = EnvironBuilder(path="/dci" + path, base_url=BASE, method="POST",
                                 json=body, headers=headers, **kwargs)
        request = WerkzeugOpenAPIRequest(Request(builder.get_environ()))
        if valid_request:
            self.openapi.validate_request(request)
        answer = self.client.post("/dci" + path, base_url=BASE, json=body, headers=headers,
                                  **kwargs)
        self.openapi.validate_response(request, WerkzeugOpenAPIResponse(answer))
        return answer


@pytest.fixture
def dci(client: FlaskClient, openapi: OpenAPI) -> Checked:
    return Checked(client, openapi)
