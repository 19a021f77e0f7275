"""Bad input on both sides of the APDU link: no crash, no hang, a status word or a typed error."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from card_reader import ber
from card_reader import piv as p
from card_reader.client import PivSession
from tests.card_reader.helpers import engine_card

FUZZ = settings(max_examples=400, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
PIV_INS = [p.INS_SELECT, p.INS_GET_DATA, p.INS_GET_RESPONSE, p.INS_VERIFY,
           p.INS_CHANGE_REFERENCE, p.INS_RESET_RETRY, p.INS_GENERAL_AUTHENTICATE,
           p.INS_GENERATE_ASYMMETRIC, p.INS_PUT_DATA, p.INS_SET_MGMKEY, p.INS_SET_PIN_RETRIES]


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    return engine_card(tmp_path_factory.mktemp("fuzz"))[0]


def assert_status_word(raw: bytes) -> None:
    assert len(raw) >= 2
    sw = int.from_bytes(raw[-2:], "big")
    assert sw >> 8 in (0x90, 0x61, 0x62, 0x63, 0x65, 0x67, 0x68, 0x69, 0x6A, 0x6D, 0x6E, 0x6F)


@FUZZ
@given(raw=st.binary(max_size=600))
def test_card_answers_any_bytes_with_a_status_word(engine, raw):
    assert_status_word(engine.process(raw))


@FUZZ
@given(cla=st.sampled_from([0x00, 0x10, 0x80]), ins=st.sampled_from(PIV_INS),
       p1=st.integers(0, 255), p2=st.sampled_from([0x00, 0x3F, 0x80, 0x81, 0x9A, 0x9B, 0x9E,
                                                   0xFF, 0x11]),
       data=st.binary(max_size=300), le=st.one_of(st.none(), st.integers(1, 256)))
def test_card_answers_well_formed_piv_commands_with_a_status_word(engine, cla, ins, p1, p2,
                                                                 data, le):
    assert_status_word(engine.process(p.CommandApdu(cla, ins, p1, p2, data, le).encode()))


@FUZZ
@given(body=st.recursive(
    st.binary(max_size=40),
    lambda inner: st.tuples(st.sampled_from([0x7C, 0x80, 0x81, 0x82, 0x5C, 0x53, 0xAC]),
                            inner).map(lambda t: ber.tlv(t[0], t[1])), max_leaves=6),
    p1=st.sampled_from([0x00, 0x03, 0x08, 0x11]), p2=st.sampled_from([0x9A, 0x9B, 0x9E]))
def test_card_answers_nested_tlv_garbage_in_general_authenticate(engine, body, p1, p2):
    assert_status_word(engine.process(p.CommandApdu(0, 0x87, p1, p2, body, 256).encode()))


class RandomCard:
    """A card that answers anything: the client must fail cleanly, not crash or loop."""

    def __init__(self, answers: list[bytes]) -> None:
        self.answers = answers

    def transmit(self, apdu: bytes) -> bytes:
        return self.answers.pop(0) if self.answers else b"\x61\x10"


CLIENT_ERRORS = (p.PivError, ber.TlvError)


@FUZZ
@given(answers=st.lists(st.one_of(st.binary(max_size=80),
                                  st.binary(max_size=60).map(lambda b: b + b"\x90\x00"),
                                  st.binary(max_size=60).map(lambda b: b + b"\x61\x05")),
                        max_size=8))
def test_client_fails_cleanly_on_any_card_answer(answers):
    session = PivSession(RandomCard(answers))
    for call in (session.select, lambda: session.read_certificate(p.Slot.CARD_AUTH),
                 lambda: session.sign_digest(p.Slot.CARD_AUTH, b"\x01" * 32),
                 lambda: session.generate_key(p.Slot.AUTHENTICATION),
                 session.read_card_uuid, session.pin_attempts_remaining,
                 lambda: session.authenticate(p.DEFAULT_MANAGEMENT_KEY)):
        with contextlib.suppress(CLIENT_ERRORS):
            call()


@FUZZ
@given(raw=st.binary(max_size=300))
def test_client_object_parsers_raise_only_typed_errors(raw):
    for parse in (p.parse_certificate_object, p.parse_chuid_guid, p.parse_ec_public_point,
                  lambda b: p.dyn_auth_field(b, 0x82), p.ResponseApdu.parse,
                  lambda b: list(ber.iter_tlvs(b))):
        with contextlib.suppress(CLIENT_ERRORS):
            parse(raw)
