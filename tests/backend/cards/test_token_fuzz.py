"""Hypothesis against the token parser: whatever arrives, a reason and never a 500."""

import base64
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.cards.chain import TrustStore
from backend.cards.tokens import parse_token
from backend.errors import ApiError
from backend.reasons import Reason
from backend.testing.identity import bearer
from card_reader import wire

SHAPE_REASONS = {Reason.TOKEN_MALFORMED, Reason.TOKEN_OVERSIZED}
EMPTY_TRUST = TrustStore([])
FIELDS = ("certificate", "signature", "key_ref", "nonce", "algorithm")

b64 = st.binary(max_size=600).map(lambda b: base64.b64encode(b).decode())
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text() | b64,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12)
token_like = st.fixed_dictionaries(
    {}, optional={"certificate": b64 | json_values, "signature": b64 | json_values,
                  "key_ref": st.sampled_from(["9A", "9E", "9C", ""]) | json_values,
                  "nonce": b64 | json_values,
                  "algorithm": st.sampled_from(["ES256", "RS256"]) | json_values,
                  "extra": json_values})
bodies = (st.binary(max_size=2000)
          | json_values.map(lambda v: json.dumps(v).encode())
          | token_like.map(lambda v: json.dumps(v).encode()))


@settings(max_examples=600, deadline=None)
@given(bodies)
def test_the_parser_answers_every_input_with_a_token_or_a_shape_reason(raw):
    try:
        parsed = parse_token(raw, EMPTY_TRUST)
    except ApiError as refusal:
        assert refusal.reason in SHAPE_REASONS
        assert refusal.status in (400, 413)
    else:
        assert parsed.token.key_ref in wire.KEY_REFS


@pytest.fixture
def kiosk(terminal):
    return terminal("kiosk").token


# One kiosk and one database for all examples (fixtures are set up once per test):
# every example is a single refused request, so nothing carries over between them.
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=bodies)
def test_the_token_endpoint_never_fails_with_a_server_error(client, kiosk, card_ca, body):
    answer = client.post(wire.PATH_CARD_TOKEN, data=body, headers={
        **bearer(kiosk), "Content-Type": "application/json"})
    assert answer.status_code < 500
    assert answer.json["error"]["reason"] in {r.value for r in Reason}
