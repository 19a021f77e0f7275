"""The API's contract that holds for every endpoint."""

import re

from backend.api.openapi import build_spec, openapi_path
from backend.reasons import Reason


def test_health_names_the_database(client, db_url):
    answer = client.get("/api/v1/health")
    assert answer.status_code == 200
    assert answer.json["database"] == db_url.split(":")[0].split("+")[0]


def test_unknown_path_is_a_json_refusal_with_a_reason(client):
    answer = client.get("/api/v1/no-such-thing")
    assert answer.status_code == 404
    assert answer.json["error"]["reason"] == Reason.NOT_FOUND


def test_wrong_method_is_a_json_refusal_with_a_reason(client):
    answer = client.delete("/api/v1/health")
    assert answer.status_code == 405
    assert answer.json["error"]["reason"] == Reason.METHOD_NOT_ALLOWED


def test_openapi_describes_every_api_route(app, client):
    spec = client.get("/api/v1/openapi.json").json
    documented = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        path, _ = openapi_path(rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method.lower()) in documented, rule.rule


def test_openapi_documents_the_idempotency_key_of_service_actions():
    operation = build_spec()["paths"]["/api/v1/services/{key}/{action_name}"]["post"]
    [header] = [p for p in operation["parameters"] if p["in"] == "header"]
    assert header["name"] == "Idempotency-Key"
    assert re.fullmatch(header["schema"]["pattern"], "0b6f1c8e-replay-key")
    assert not re.fullmatch(header["schema"]["pattern"], "short")


def test_openapi_documents_the_token_requests_form_body():
    operation = build_spec()["paths"]["/api/v1/oauth/token"]["post"]
    [(media, content)] = operation["requestBody"]["content"].items()
    assert media == "application/x-www-form-urlencoded"
    assert content["schema"]["$ref"].endswith("/TerminalTokenForm")


def test_openapi_lists_every_refusal_reason():
    spec = build_spec()
    reasons = spec["components"]["schemas"]["Error"]["properties"]["error"]["properties"]
    assert set(reasons["reason"]["enum"]) == {r.value for r in Reason}


def test_behind_a_trusted_proxy_the_hub_sees_the_clients_scheme_and_address(db_url, instance_dir):
    from flask import request

    from backend.app import create_app

    app = create_app(DATABASE_URL=db_url, INSTANCE_DIR=str(instance_dir), PROXY_HOPS=1,
                     SECRET_KEY="k")
    seen = {}

    @app.get("/_probe")
    def probe():
        seen.update(scheme=request.scheme, remote=request.remote_addr)
        return "ok"

    app.test_client().get("/_probe", headers={"X-Forwarded-Proto": "https",
                                               "X-Forwarded-For": "203.0.113.9"})
    assert seen == {"scheme": "https", "remote": "203.0.113.9"}


def test_a_query_parameter_given_twice_is_refused_not_half_read(client, staff_token):
    answer = client.get("/api/v1/citizens?name=budi&name=ani&purpose=find+a+citizen",
                        headers={"Authorization": f"Bearer {staff_token('admin')}"})
    assert answer.status_code == 400
    assert answer.json["error"]["reason"] == "validation_failed"
    assert answer.json["error"]["details"]["errors"][0]["field"] == "name"
