"""`satukartu dci peer add|list`: a registered peer gets a token with what it was shown."""

from __future__ import annotations

import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend.dci import jwks
from backend.testing.identity import basic
from tests.backend.identity.conftest import cli_hub  # noqa: F401  (the fixture)

BASE = "https://hub.test"


def test_a_peer_registered_at_the_command_line_gets_a_token(cli_hub, tmp_path):  # noqa: F811
    run, client = cli_hub
    keys = tmp_path / "peer.jwks"
    keys.write_text(json.dumps({"keys": [jwks.public_jwk(
        Ed25519PrivateKey.generate().public_key(), "k1")]}))
    created = json.loads(run("dci", "peer", "add", "--sender-id", "dinsos-dtks", "--name",
                             "Dinsos DTKS", "--callback-uri", "https://dtks.test/dci",
                             "--jwks", str(keys), "--json").output)
    answer = client.post("/dci/oauth2/client/token", base_url=BASE,
                         data={"grant_type": "client_credentials"},
                         headers=basic(created["client_id"], created["client_secret"]))
    assert answer.status_code == 200
    assert answer.json["scope"] == "dci.person"
    listed = json.loads(run("dci", "peer", "list", "--json").output)
    assert [p["sender_id"] for p in listed] == ["dinsos-dtks"]


def test_a_peer_without_keys_is_not_registered(cli_hub, tmp_path):  # noqa: F811
    run, _client = cli_hub
    keys = tmp_path / "empty.jwks"
    keys.write_text('{"keys": []}')
    result = run("dci", "peer", "add", "--sender-id", "p", "--name", "P", "--callback-uri",
                 "https://p.test", "--jwks", str(keys))
    assert result.exit_code != 0
    assert "no key" in result.output


def test_a_disabled_peer_gets_no_token(cli_hub, tmp_path):  # noqa: F811
    run, client = cli_hub
    keys = tmp_path / "peer.jwks"
    keys.write_text(json.dumps({"keys": [jwks.public_jwk(
        Ed25519PrivateKey.generate().public_key(), "k1")]}))
    created = json.loads(run("dci", "peer", "add", "--sender-id", "p", "--name", "P",
                             "--callback-uri", "https://p.test", "--jwks", str(keys),
                             "--json").output)
    assert run("dci", "peer", "disable", "p").exit_code == 0
    answer = client.post("/dci/oauth2/client/token", base_url=BASE,
                         data={"grant_type": "client_credentials"},
                         headers=basic(created["client_id"], created["client_secret"]))
    assert answer.status_code in (400, 401)
    assert answer.json["error"] == "invalid_client"
