"""Whatever arrives at the sign-in endpoints, the answer is a refusal with a reason, never a 500."""

import base64

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.reasons import Reason
from backend.testing.identity import basic, bearer

REASONS = {r.value for r in Reason}
FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                 max_size=4),
    max_leaves=12)
form_fields = st.dictionaries(
    st.sampled_from(["grant_type", "scope", "client_id", "client_secret", "code", "x"]),
    st.text(max_size=80) | st.sampled_from(["client_credentials", "kiosk", ""]), max_size=5)
# What can travel in an HTTP header at all: no line breaks or other control characters.
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF,
                                    blacklist_characters="\x7f"), max_size=300)
basic_values = st.one_of(
    header_text,
    st.binary(max_size=60).map(lambda b: "Basic " + base64.b64encode(b).decode()),
    st.tuples(st.text(max_size=30), st.text(max_size=30)).map(
        lambda p: "Basic " + base64.b64encode(f"{p[0]}:{p[1]}".encode()).decode()),
)


@FUZZ
@given(body=json_values)
def test_login_answers_any_json_with_a_reason(client, body):
    answer = client.post("/api/v1/auth/staff/login", json=body,
                         environ_base={"REMOTE_ADDR": "192.0.2.200"})
    assert answer.status_code < 500
    assert answer.json["error"]["reason"] in REASONS


@FUZZ
@given(form=form_fields, authorization=st.none() | basic_values)
def test_token_endpoint_answers_any_form_with_a_reason(client, form, authorization):
    headers = {"Authorization": authorization} if authorization is not None else {}
    answer = client.post("/api/v1/oauth/token", data=form, headers=headers,
                         environ_base={"REMOTE_ADDR": "192.0.2.201"})
    assert answer.status_code < 500
    assert answer.json["reason"] in REASONS
    assert isinstance(answer.json["error"], str)


@FUZZ
@given(token=header_text.filter(lambda t: t.strip() == t and t != ""))
def test_any_bearer_token_is_refused_with_a_reason(client, token):
    answer = client.get("/api/v1/auth/whoami", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code in (400, 401)
    assert answer.json["error"]["reason"] in REASONS


def test_nul_and_control_characters_are_refused_not_stored(client, staff_token, terminal):
    admin = bearer(staff_token("admin"))
    kiosk = terminal("kiosk")
    cases = [
        client.post("/api/v1/auth/staff/login", json={"username": "a\x00b", "password": "x"}),
        client.post("/api/v1/staff", headers=admin,
                    json={"username": "rini", "role": "clerk", "display_name": "R\x00"}),
        client.post("/api/v1/terminals", headers=admin, json={"kind": "kiosk", "name": "k\x00"}),
        client.get("/api/v1/staff/a%00b", headers=admin),
        client.post("/api/v1/staff/a%00b/disable", headers=admin),
        client.get("/api/v1/terminals/kiosk-%00", headers=admin),
        client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials",
                                                 "client_id": "\x00", "client_secret": "x"}),
        client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"},
                    headers=basic(kiosk.client_id + "\x00", kiosk.client_secret)),
    ]
    for answer in cases:
        assert 400 <= answer.status_code < 500, (answer.request.path, answer.json)
        reason = answer.json["reason"] if isinstance(answer.json["error"], str) else \
            answer.json["error"]["reason"]
        assert reason in REASONS
