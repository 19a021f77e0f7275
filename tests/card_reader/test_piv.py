"""The pure PIV module: APDU codecs, TLV, status words, builders."""

from __future__ import annotations

import pytest

from card_reader import ber
from card_reader import piv as p
from card_reader.piv import CommandApdu, ResponseApdu


@pytest.mark.parametrize(("raw", "expected"), [
    ("00A40400", CommandApdu(0, 0xA4, 4, 0)),
    ("00CB3FFF08", CommandApdu(0, 0xCB, 0x3F, 0xFF, le=8)),
    ("00CB3FFF00", CommandApdu(0, 0xCB, 0x3F, 0xFF, le=256)),
    ("00A4040005A000000308", CommandApdu(0, 0xA4, 4, 0, bytes.fromhex("A000000308"))),
    ("00A4040005A00000030800", CommandApdu(0, 0xA4, 4, 0, bytes.fromhex("A000000308"), 256)),
    ("00CB3FFF000000", CommandApdu(0, 0xCB, 0x3F, 0xFF, le=65536, extended=True)),
    ("00DB3FFF000002AABB", CommandApdu(0, 0xDB, 0x3F, 0xFF, b"\xaa\xbb", extended=True)),
    ("00DB3FFF000002AABB0100", CommandApdu(0, 0xDB, 0x3F, 0xFF, b"\xaa\xbb", 256, True)),
])
def test_command_apdu_parses_every_iso_case(raw, expected):
    assert CommandApdu.parse(bytes.fromhex(raw)) == expected


@pytest.mark.parametrize(
    "raw", ["", "00A404", "00A4040005A0", "00A404000000", "00A4040000000301", "FFA40400"])
def test_malformed_command_apdu_gives_a_status_word(raw):
    with pytest.raises(p.ApduFormatError) as info:
        CommandApdu.parse(bytes.fromhex(raw))
    assert info.value.sw in (p.SW_WRONG_LENGTH, p.SW_CLA_NOT_SUPPORTED)


def test_command_apdu_round_trips_short_and_extended():
    for cmd in (CommandApdu(0, 0x87, 0x11, 0x9A, b"x" * 40, le=256),
                CommandApdu(0, 0xDB, 0x3F, 0xFF, b"y" * 1000),
                CommandApdu(0, 0xCB, 0x3F, 0xFF, b"z", le=4000)):
        again = CommandApdu.parse(cmd.encode())
        assert (again.data, again.le) == (cmd.data, cmd.le)


def test_chain_splits_long_commands_with_cla_10_except_the_last():
    parts = p.chain(p.put_data_apdu(p.ObjectId.AUTHENTICATION, b"\x53" + b"\x00" * 600))
    assert [c.cla for c in parts] == [0x10, 0x10, 0x00]
    assert b"".join(c.data for c in parts) == p.put_data_apdu(
        p.ObjectId.AUTHENTICATION, b"\x53" + b"\x00" * 600).data
    assert all(len(c.encode()) <= 5 + 255 for c in parts)


def test_tlv_lengths_and_multibyte_tags_round_trip():
    for size in (0, 1, 127, 128, 255, 256, 3000):
        for tag in (0x53, 0x7F49, 0x5FC105):
            item = ber.parse_tlv(ber.tlv(tag, b"a" * size))
            assert (item.tag, len(item.value)) == (tag, size)


@pytest.mark.parametrize("raw", ["53", "5382", "538201", "5F", "5305AABB", "5385000000"])
def test_truncated_tlv_raises_tlv_error(raw):
    with pytest.raises(ber.TlvError):
        ber.parse_tlv(bytes.fromhex(raw))


@pytest.mark.parametrize(("sw", "error"), [
    (0x63C2, p.InvalidPinError), (0x63C0, p.PinBlockedError), (0x6983, p.PinBlockedError),
    (0x6982, p.SecurityStatusError), (0x6A82, p.NotFoundError), (0x6A80, p.WrongDataError),
    (0x6D00, p.PivError),
])
def test_status_words_map_to_typed_errors(sw, error):
    with pytest.raises(error) as info:
        p.check_sw(sw)
    assert info.value.sw == sw


def test_invalid_pin_error_carries_attempts_remaining():
    with pytest.raises(p.InvalidPinError) as info:
        ResponseApdu(b"", 0x63C2).check()
    assert info.value.attempts_remaining == 2


def test_pin_padding_and_validation():
    assert p.pad_pin("123456") == b"123456\xff\xff"
    assert p.unpad_pin(b"123456\xff\xff") == b"123456"
    assert p.unpad_pin(b"12\xff3456\xff") is None
    assert p.pin_is_valid("12345678") and not p.pin_is_valid("12345") \
        and not p.pin_is_valid("12a456") and not p.pin_is_valid("123456789")


def test_certificate_object_has_the_layout_opensc_reads():
    obj = p.certificate_object(b"\x30\x03\x02\x01\x01")
    assert obj == bytes.fromhex("530C" "7005300302010 1".replace(" ", "") + "710100" + "FE00")
    assert p.parse_certificate_object(obj) == b"\x30\x03\x02\x01\x01"


def test_chuid_carries_the_guid():
    guid = bytes(range(16))
    assert p.parse_chuid_guid(p.chuid_object(guid)) == guid


def test_object_ids_and_slots():
    assert p.object_id_bytes(p.ObjectId.DISCOVERY) == b"\x7e"
    assert p.object_id_bytes(p.ObjectId.AUTHENTICATION) == bytes.fromhex("5FC105")
    assert p.ObjectId.for_slot(p.Slot.CARD_AUTH) == p.ObjectId.CARD_AUTH
    assert p.sign_apdu(p.Slot.AUTHENTICATION, b"\x01" * 32).encode().hex().upper().startswith(
        "0087119A267C2482008120")
