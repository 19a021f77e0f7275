"""Readiness: 200 with every check when the hub can serve, 503 naming what is down."""

from __future__ import annotations

import json
from pathlib import Path

from backend.app import create_app
from backend.reasons import Reason
from tests.support.private_services import free_port

RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"
CHECKS = {"database", "broker", "ca_certificate", "ca_key", "document_signing_key",
          "audit_signing_key"}


def test_readiness_answers_200_with_every_check_ok_when_everything_is_up(app, client, card_ca):
    app.config["BROKER_URL"] = RABBITMQ
    answer = client.get("/api/v1/ready")
    assert answer.status_code == 200, answer.json
    assert answer.json == {"status": "ready", "checks": dict.fromkeys(CHECKS, "ok")}


def test_readiness_names_the_broker_when_it_refuses_connections(app, client, card_ca):
    app.config["BROKER_URL"] = f"amqp://guest:guest@127.0.0.1:{free_port()}//"
    answer = client.get("/api/v1/ready")
    assert answer.status_code == 503
    error = answer.json["error"]
    assert error["reason"] == Reason.NOT_READY
    assert error["details"]["failed"] == ["broker"]
    assert error["details"]["checks"]["database"] == "ok"


def test_readiness_names_the_database_when_it_is_unreachable(tmp_path):
    closed = free_port()
    hub = create_app(DATABASE_URL=f"postgresql://satukartu@127.0.0.1:{closed}/gone",
                     INSTANCE_DIR=str(tmp_path / "instance"), SECRET_KEY="x" * 40,
                     BROKER_URL=RABBITMQ)
    try:
        answer = hub.test_client().get("/api/v1/ready")
    finally:
        hub.extensions["satukartu.db"].engine.dispose()
    assert answer.status_code == 503
    assert "database" in answer.json["error"]["details"]["failed"]


def test_readiness_says_nothing_of_urls_hosts_or_paths(app, client, tmp_path):
    secret_port = free_port()
    app.config["BROKER_URL"] = f"amqp://guest:hunter2@127.0.0.1:{secret_port}//"
    app.config["CA_DIR"] = str(tmp_path / "private-ca-folder")
    answer = client.get("/api/v1/ready")
    assert answer.status_code == 503
    body = json.dumps(answer.json)
    for secret in ("hunter2", str(secret_port), "127.0.0.1", "private-ca-folder", "amqp"):
        assert secret not in body
    assert set(answer.json["error"]["details"]["failed"]) >= {"broker", "ca_certificate"}


def test_a_signing_key_not_made_yet_is_ready_to_be_made(app, client, card_ca):
    """The keyring makes the key at its first signature: absence alone is not a fault."""
    app.config["BROKER_URL"] = RABBITMQ
    app.config["DOCUMENT_SIGNING_KEY"] = str(Path(app.instance_path) / "keys" / "later.key")
    answer = client.get("/api/v1/ready")
    assert answer.json["checks"]["document_signing_key"] == "ok"


def test_liveness_stays_free_of_the_broker(app, client):
    app.config["BROKER_URL"] = f"amqp://guest:guest@127.0.0.1:{free_port()}//"
    assert client.get("/api/v1/health").status_code == 200
