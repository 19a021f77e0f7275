"""The virtual card's APDU engine, driven in-process (no pcscd): what clients rely on."""

from __future__ import annotations

import hashlib
import json
import time

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from card_reader import piv as p
from card_reader.client import PivSession
from card_reader.vcard import open_card
from tests.card_reader.helpers import EngineConnection, engine_card


def send(engine, hexapdu: str) -> tuple[bytes, int]:
    raw = engine.process(bytes.fromhex(hexapdu.replace(" ", "")))
    return raw[:-2], int.from_bytes(raw[-2:], "big")


@pytest.fixture
def card(tmp_path):
    engine, path = engine_card(tmp_path)
    return engine, path, PivSession(EngineConnection(engine))


def personalise(session: PivSession, key: bytes = p.DEFAULT_MANAGEMENT_KEY):
    session.authenticate(key)
    return session.generate_key(p.Slot.AUTHENTICATION), session.generate_key(p.Slot.CARD_AUTH)


def test_select_by_truncated_aids_answers_the_application_template(card):
    engine, _, _ = card
    for aid in ("A000000308", "A00000030800001000", "A000000308000010000100"):
        data, sw = send(engine, f"00A40400{len(aid) // 2:02X}{aid}00")
        assert sw == p.SW_OK and data.startswith(bytes.fromhex("61114F06000010000100"))


def test_foreign_aid_is_not_found_and_piv_stays_selected(card):
    engine, _, _ = card
    assert send(engine, "00A4040007A0000002471001")[1] == p.SW_FILE_NOT_FOUND
    assert send(engine, "00CADF3000")[1] == p.SW_INS_NOT_SUPPORTED
    data, sw = send(engine, "00CB3FFF035C017E00")
    assert sw == p.SW_OK and data.startswith(b"\x7e")


def test_get_data_honours_le_and_a_new_command_drops_the_rest(card, tmp_path):
    engine, _, session = card
    session.authenticate(p.DEFAULT_MANAGEMENT_KEY)
    session.put_certificate(p.Slot.AUTHENTICATION, b"\x30\x82\x03\x00" + b"\x01" * 0x300)
    data, sw = send(engine, "00CB3FFF055C035FC10508")
    assert len(data) == 8 and sw >> 8 == 0x61
    assert send(engine, "00C0000000")[1] >> 8 == 0x61  # leftover still there
    send(engine, "00A4040005A000000308")  # a new command drops it
    assert send(engine, "00C0000000")[1] == p.SW_CONDITIONS_NOT_SATISFIED


def test_long_answers_come_in_61xx_get_response_rounds(card):
    engine, _, session = card
    session.authenticate(p.DEFAULT_MANAGEMENT_KEY)
    cert = b"\x30\x82\x03\x00" + bytes(range(256)) * 3
    session.put_certificate(p.Slot.AUTHENTICATION, cert)
    data, sw = send(engine, "00CB3FFF055C035FC105")  # no Le: treated as 256
    assert len(data) == 256 and sw >> 8 == 0x61
    out = bytearray(data)
    while sw >> 8 == 0x61:
        data, sw = send(engine, f"00C00000{sw & 0xFF:02X}")
        out += data
    assert sw == p.SW_OK and p.parse_certificate_object(bytes(out)) == cert


def test_a_different_command_aborts_a_chain(card):
    engine, _, session = card
    session.authenticate(p.DEFAULT_MANAGEMENT_KEY)
    assert send(engine, "10DB3FFF055C035FC109")[1] == p.SW_OK
    send(engine, "00CB3FFF035C017E")  # another tool's APDU between the parts
    # the tail alone is not an object: the chain was dropped, not completed
    assert send(engine, "00DB3FFF0453020102")[1] == p.SW_WRONG_DATA


def test_verify_counts_down_and_blocks_after_three_wrong_pins(card):
    engine, _, session = card
    assert session.pin_attempts_remaining() == 3
    for left in (2, 1):
        with pytest.raises(p.InvalidPinError) as info:
            session.verify_pin("999999")
        assert info.value.attempts_remaining == left
    with pytest.raises(p.PinBlockedError):
        session.verify_pin("999999")
    with pytest.raises(p.PinBlockedError):
        session.verify_pin("123456")  # the right PIN no longer helps
    assert session.pin_attempts_remaining() == 0
    assert send(engine, "0020008000")[1] == p.SW_AUTH_BLOCKED


def test_puk_unblocks_the_pin_and_a_wrong_puk_counts(card):
    _, _, session = card
    for _ in range(3):
        with pytest.raises((p.InvalidPinError, p.PinBlockedError)):
            session.verify_pin("000000")
    with pytest.raises(p.InvalidPinError):
        session.unblock_pin("87654321", "135790")
    session.unblock_pin("12345678", "135790")
    session.verify_pin("135790")
    assert session.pin_attempts_remaining() is None


def test_status_query_and_logout(card):
    engine, _, session = card
    assert send(engine, "00200080")[1] == 0x63C3
    session.verify_pin("123456")
    assert send(engine, "0020008000")[1] == p.SW_OK
    session.logout()
    assert send(engine, "00200080")[1] == 0x63C3


def test_printed_information_needs_the_pin(card):
    engine, _, session = card
    assert send(engine, "00CB3FFF055C035FC109")[1] == p.SW_SECURITY_STATUS
    session.verify_pin("123456")
    assert send(engine, "00CB3FFF055C035FC109")[1] == p.SW_FILE_NOT_FOUND


def test_9a_needs_the_pin_and_9e_does_not(card):
    _, _, session = card
    pub_9a, pub_9e = personalise(session)
    digest = hashlib.sha256(b"nonce").digest()
    sig = session.sign_digest(p.Slot.CARD_AUTH, digest)
    pub_9e.verify(sig, digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    with pytest.raises(p.SecurityStatusError):
        session.sign_digest(p.Slot.AUTHENTICATION, digest)
    session.verify_pin("123456")
    sig = session.sign_digest(p.Slot.AUTHENTICATION, digest)
    pub_9a.verify(sig, digest, ec.ECDSA(Prehashed(hashes.SHA256())))


def test_personalisation_needs_the_management_key(card):
    _, _, session = card
    with pytest.raises(p.SecurityStatusError):
        session.generate_key(p.Slot.AUTHENTICATION)
    with pytest.raises(p.SecurityStatusError):
        session.put_chuid(__import__("uuid").uuid4())
    with pytest.raises((p.SecurityStatusError, p.BadResponseError)):
        session.authenticate(bytes(24))


def test_new_aes_management_key_replaces_the_default(card):
    _, _, session = card
    session.authenticate(p.DEFAULT_MANAGEMENT_KEY)
    new = bytes(range(16))
    session.set_management_key(new, p.Algorithm.AES128)
    with pytest.raises(p.PivError):
        session.authenticate(p.DEFAULT_MANAGEMENT_KEY)
    session.authenticate(new, p.Algorithm.AES128)


def test_9b_random_challenge_for_opensc(card):
    engine, _, _ = card
    one, sw = send(engine, "0087009B047C028100")
    two, _ = send(engine, "0087009B047C028100")
    assert sw == p.SW_OK and one[:4] == bytes.fromhex("7C0A8108") and one != two


def test_state_survives_a_restart_of_the_card(tmp_path):
    engine, path, = engine_card(tmp_path)
    session = PivSession(EngineConnection(engine))
    personalise(session)
    session.change_pin("123456", "24681012")
    with pytest.raises(p.InvalidPinError):
        session.verify_pin("000000")
    again = PivSession(EngineConnection(open_card(path)))
    assert again.pin_attempts_remaining() == 2
    again.verify_pin("24681012")
    again.sign_digest(p.Slot.AUTHENTICATION, b"\x01" * 32)
    saved = json.loads(path.read_text())
    assert set(saved["keys"]) == {"9A", "9E"} and saved["pin_remaining"] == 3


def test_retry_count_is_configurable_up_to_ten(tmp_path):
    engine, _ = engine_card(tmp_path, retries=10)
    assert PivSession(EngineConnection(engine)).pin_attempts_remaining() == 10
    with pytest.raises(ValueError):
        engine_card(tmp_path, "other.json", retries=11)


def test_reset_drops_the_login_state(card):
    engine, _, session = card
    session.verify_pin("123456")
    engine.reset()
    assert session.pin_attempts_remaining() == 3


def test_real_delay_profile_takes_a_real_cards_time(tmp_path):
    engine, _ = engine_card(tmp_path, delay_profile="real")
    session = PivSession(EngineConnection(engine))
    personalise(session)
    start = time.perf_counter()
    session.sign_digest(p.Slot.CARD_AUTH, b"\x02" * 32)
    assert time.perf_counter() - start >= 0.07
