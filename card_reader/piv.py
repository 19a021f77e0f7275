"""The PIV protocol (NIST SP 800-73-4 subset) as plain data: no I/O, no crypto.

The client, the virtual card and the tests share these constants and APDU codecs (the
BER-TLV underneath is `card_reader.ber`), so the protocol is defined once and testable
without pcscd.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from card_reader.ber import TlvError, tlv, tlv_dict, unwrap

AID = bytes.fromhex("A000000308000010000100")
AID_MIN_PREFIX = 5  # yubico-piv-tool selects with the 5-byte RID
APPLICATION_TEMPLATE = bytes.fromhex("61114F0600001000010079074F05A000000308")

# Instructions
INS_SELECT = 0xA4
INS_GET_DATA = 0xCB
INS_GET_RESPONSE = 0xC0
INS_VERIFY = 0x20
INS_CHANGE_REFERENCE = 0x24
INS_RESET_RETRY = 0x2C
INS_GENERAL_AUTHENTICATE = 0x87
INS_GENERATE_ASYMMETRIC = 0x47
INS_PUT_DATA = 0xDB
INS_SET_MGMKEY = 0xFF  # vendor extension (YubiKey-compatible): SP 800-73 leaves it open
INS_SET_PIN_RETRIES = 0xFA  # vendor extension (YubiKey-compatible)

CLA_PLAIN = 0x00
CLA_CHAIN = 0x10

# Tags
TAG_DYN_AUTH = 0x7C
TAG_AUTH_WITNESS = 0x80
TAG_AUTH_CHALLENGE = 0x81
TAG_AUTH_RESPONSE = 0x82
TAG_AUTH_EXPONENTIATION = 0x85
TAG_OBJ_ID = 0x5C
TAG_OBJ_DATA = 0x53
TAG_CERTIFICATE = 0x70
TAG_CERT_INFO = 0x71
TAG_LRC = 0xFE
TAG_GEN_ALGORITHM = 0x80
TAG_GEN_CONTROL = 0xAC
TAG_PUBLIC_KEY = 0x7F49
TAG_EC_POINT = 0x86
TAG_DISCOVERY = 0x7E
TAG_CHUID_FASC_N = 0x30
TAG_CHUID_GUID = 0x34
TAG_CHUID_EXPIRY = 0x35
TAG_CHUID_SIGNATURE = 0x3E

PIN_PAD = 0xFF
PIN_MIN_LEN = 6
PIN_MAX_LEN = 8
MAX_PIN_RETRIES = 10
SHORT_MAX_DATA = 255
DIGEST_MAX_LEN = 32


class Slot(IntEnum):
    AUTHENTICATION = 0x9A
    SIGNATURE = 0x9C
    KEY_MANAGEMENT = 0x9D
    CARD_AUTH = 0x9E


class KeyRef(IntEnum):
    PIN = 0x80
    PUK = 0x81
    MANAGEMENT = 0x9B


class Algorithm(IntEnum):
    TDES = 0x03
    RSA2048 = 0x07
    AES128 = 0x08
    AES192 = 0x0A
    AES256 = 0x0C
    ECCP256 = 0x11
    ECCP384 = 0x14


MGMT_KEY_LENGTHS = {Algorithm.TDES: 24, Algorithm.AES128: 16}
MGMT_BLOCK_SIZES = {Algorithm.TDES: 8, Algorithm.AES128: 16}
DEFAULT_MANAGEMENT_KEY = bytes.fromhex("010203040506070801020304050607080102030405060708")


class ObjectId(IntEnum):
    CAPABILITY = 0x5FC107
    CHUID = 0x5FC102
    AUTHENTICATION = 0x5FC105  # certificate for 9A
    FINGERPRINTS = 0x5FC103
    SECURITY = 0x5FC106
    FACIAL = 0x5FC108
    PRINTED = 0x5FC109
    SIGNATURE = 0x5FC10A
    KEY_MANAGEMENT = 0x5FC10B
    CARD_AUTH = 0x5FC101  # certificate for 9E
    DISCOVERY = 0x7E
    KEY_HISTORY = 0x5FC10C

    @classmethod
    def for_slot(cls, slot: Slot) -> ObjectId:
        return _CERT_OBJECT_BY_SLOT[Slot(slot)]


_CERT_OBJECT_BY_SLOT = {
    Slot.AUTHENTICATION: ObjectId.AUTHENTICATION,
    Slot.SIGNATURE: ObjectId.SIGNATURE,
    Slot.KEY_MANAGEMENT: ObjectId.KEY_MANAGEMENT,
    Slot.CARD_AUTH: ObjectId.CARD_AUTH,
}


def object_id_bytes(oid: int) -> bytes:
    """The bytes under tag 5C: one byte for discovery, three for the others."""
    return bytes([oid]) if oid <= 0xFF else oid.to_bytes(3, "big")


# Status words
SW_OK = 0x9000
SW_BYTES_REMAINING = 0x6100  # 61xx
SW_WRONG_LE = 0x6C00  # 6Cxx
SW_VERIFY_FAIL = 0x63C0  # 63Cx
SW_MEMORY_FAILURE = 0x6581
SW_WRONG_LENGTH = 0x6700
SW_CHAINING_UNSUPPORTED = 0x6884
SW_SECURITY_STATUS = 0x6982
SW_AUTH_BLOCKED = 0x6983
SW_CONDITIONS_NOT_SATISFIED = 0x6985
SW_WRONG_DATA = 0x6A80
SW_FUNCTION_NOT_SUPPORTED = 0x6A81
SW_FILE_NOT_FOUND = 0x6A82
SW_NOT_ENOUGH_MEMORY = 0x6A84
SW_INCORRECT_P1P2 = 0x6A86
SW_REFERENCE_NOT_FOUND = 0x6A88
SW_INS_NOT_SUPPORTED = 0x6D00
SW_CLA_NOT_SUPPORTED = 0x6E00
SW_UNKNOWN = 0x6F00


# --- errors -------------------------------------------------------------------


class PivError(Exception):
    """A card answer that is not success; `sw` is the status word."""

    def __init__(self, sw: int, message: str = "") -> None:
        super().__init__(message or f"card answered {sw:04X}")
        self.sw = sw


class ApduFormatError(ValueError):
    """Bytes that are not a well-formed APDU (the card answers a status word)."""

    def __init__(self, sw: int, message: str) -> None:
        super().__init__(message)
        self.sw = sw


class InvalidPinError(PivError):
    """Wrong PIN or PUK; `attempts_remaining` lets a screen warn before blocking."""

    def __init__(self, sw: int, attempts_remaining: int) -> None:
        super().__init__(sw, f"wrong PIN, {attempts_remaining} attempts remaining")
        self.attempts_remaining = attempts_remaining


class PinBlockedError(PivError):
    pass


class SecurityStatusError(PivError):
    """The command needs a PIN or management-key authentication first."""


class NotFoundError(PivError):
    pass


class WrongDataError(PivError):
    pass


class ConditionsNotSatisfiedError(PivError):
    pass


class BadResponseError(PivError):
    """The card answered success with data we cannot parse."""

    def __init__(self, message: str) -> None:
        super().__init__(SW_OK, message)


def check_sw(sw: int) -> None:
    """Raise the typed error a status word stands for; return on 9000."""
    if sw == SW_OK:
        return
    if sw & 0xFFF0 == SW_VERIFY_FAIL:
        if sw & 0x0F == 0:
            raise PinBlockedError(sw, "PIN blocked")
        raise InvalidPinError(sw, sw & 0x0F)
    errors: dict[int, type[PivError]] = {
        SW_AUTH_BLOCKED: PinBlockedError,
        SW_SECURITY_STATUS: SecurityStatusError,
        SW_FILE_NOT_FOUND: NotFoundError,
        SW_REFERENCE_NOT_FOUND: NotFoundError,
        SW_WRONG_DATA: WrongDataError,
        SW_CONDITIONS_NOT_SATISFIED: ConditionsNotSatisfiedError,
    }
    raise errors.get(sw, PivError)(sw)


# --- APDUs --------------------------------------------------------------------


@dataclass(frozen=True)
class CommandApdu:
    """An ISO 7816-4 command; `le` is the number of bytes expected (None: case 1/3)."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None
    extended: bool = False

    @property
    def chained(self) -> bool:
        return bool(self.cla & CLA_CHAIN)

    def encode(self) -> bytes:
        header = bytes([self.cla, self.ins, self.p1, self.p2])
        ext = self.extended or len(self.data) > SHORT_MAX_DATA or (self.le or 0) > 256
        if len(self.data) > 65535 or (self.le or 0) > 65536:
            raise ValueError("APDU too long")
        out = bytearray(header)
        if ext:
            if self.data:
                out += b"\x00" + len(self.data).to_bytes(2, "big") + self.data
            if self.le is not None:
                le = b"" if self.data else b"\x00"
                out += le + (self.le % 65536).to_bytes(2, "big")
        else:
            if self.data:
                out += bytes([len(self.data)]) + self.data
            if self.le is not None:
                out.append(self.le % 256)
        return bytes(out)

    @classmethod
    def parse(cls, raw: bytes) -> CommandApdu:
        """Decode any of the seven ISO cases; raise ApduFormatError with its status word."""
        if len(raw) < 4:
            raise ApduFormatError(SW_WRONG_LENGTH, "APDU shorter than its header")
        cla, ins, p1, p2 = raw[:4]
        body = raw[4:]
        if cla == 0xFF:
            raise ApduFormatError(SW_CLA_NOT_SUPPORTED, "invalid class byte")
        if not body:
            return cls(cla, ins, p1, p2)
        if len(body) == 1:
            return cls(cla, ins, p1, p2, le=body[0] or 256)
        if body[0] != 0:
            lc = body[0]
            if len(body) == 1 + lc:
                return cls(cla, ins, p1, p2, bytes(body[1:]))
            if len(body) == 2 + lc:
                return cls(cla, ins, p1, p2, bytes(body[1 : 1 + lc]), le=body[-1] or 256)
            raise ApduFormatError(SW_WRONG_LENGTH, "Lc does not match the data")
        # extended: body starts with 00
        if len(body) == 3:
            return cls(cla, ins, p1, p2, le=int.from_bytes(body[1:3], "big") or 65536,
                       extended=True)
        if len(body) < 3:
            raise ApduFormatError(SW_WRONG_LENGTH, "truncated extended length")
        lc = int.from_bytes(body[1:3], "big")
        if lc == 0:
            raise ApduFormatError(SW_WRONG_LENGTH, "extended Lc of zero")
        if len(body) == 3 + lc:
            return cls(cla, ins, p1, p2, bytes(body[3:]), extended=True)
        if len(body) == 5 + lc:
            le = int.from_bytes(body[-2:], "big") or 65536
            return cls(cla, ins, p1, p2, bytes(body[3 : 3 + lc]), le=le, extended=True)
        raise ApduFormatError(SW_WRONG_LENGTH, "extended Lc does not match the data")


@dataclass(frozen=True)
class ResponseApdu:
    data: bytes = b""
    sw: int = SW_OK

    @property
    def sw1(self) -> int:
        return self.sw >> 8

    @property
    def sw2(self) -> int:
        return self.sw & 0xFF

    def encode(self) -> bytes:
        return self.data + self.sw.to_bytes(2, "big")

    @classmethod
    def parse(cls, raw: bytes) -> ResponseApdu:
        if len(raw) < 2:
            raise BadResponseError("response shorter than a status word")
        return cls(bytes(raw[:-2]), int.from_bytes(raw[-2:], "big"))

    def check(self) -> bytes:
        """The data, or the typed error for the status word."""
        check_sw(self.sw)
        return self.data


def chain(apdu: CommandApdu, size: int = SHORT_MAX_DATA) -> list[CommandApdu]:
    """Split a long command into short ones with CLA 10 on all but the last."""
    data = apdu.data
    if len(data) <= size:
        return [apdu]
    parts = [data[i : i + size] for i in range(0, len(data), size)]
    out = [CommandApdu(apdu.cla | CLA_CHAIN, apdu.ins, apdu.p1, apdu.p2, p) for p in parts[:-1]]
    out.append(CommandApdu(apdu.cla, apdu.ins, apdu.p1, apdu.p2, parts[-1], le=apdu.le))
    return out


# --- PIN ----------------------------------------------------------------------


def pin_is_valid(pin: str) -> bool:
    return pin.isascii() and pin.isdigit() and PIN_MIN_LEN <= len(pin) <= PIN_MAX_LEN


def pad_pin(pin: str | bytes) -> bytes:
    """A PIN as VERIFY wants it: ASCII digits, FF-padded to 8 bytes."""
    raw = pin.encode("ascii") if isinstance(pin, str) else bytes(pin)
    if not 1 <= len(raw) <= PIN_MAX_LEN:
        raise ValueError("a PIN or PUK has 1 to 8 characters")
    return raw + bytes([PIN_PAD]) * (PIN_MAX_LEN - len(raw))


def unpad_pin(padded: bytes) -> bytes | None:
    """The reference data inside an FF-padded block, or None when it is malformed."""
    if len(padded) != PIN_MAX_LEN:
        return None
    raw = padded.rstrip(bytes([PIN_PAD]))
    if not raw or PIN_PAD in raw:
        return None
    return raw


# --- command builders ---------------------------------------------------------


def select_apdu(aid: bytes = AID) -> CommandApdu:
    return CommandApdu(0, INS_SELECT, 0x04, 0x00, aid, le=256)


def get_data_apdu(oid: int) -> CommandApdu:
    return CommandApdu(0, INS_GET_DATA, 0x3F, 0xFF, tlv(TAG_OBJ_ID, object_id_bytes(oid)), le=256)


def get_response_apdu(le: int) -> CommandApdu:
    return CommandApdu(0, INS_GET_RESPONSE, 0, 0, le=le or 256)


def put_data_apdu(oid: int, value: bytes) -> CommandApdu:
    """PUT DATA; `value` is the whole object TLV (53 ... or 7E ...)."""
    data = tlv(TAG_OBJ_ID, object_id_bytes(oid)) + value
    return CommandApdu(0, INS_PUT_DATA, 0x3F, 0xFF, data)


def verify_apdu(pin: str | None) -> CommandApdu:
    """VERIFY with the PIN, or the status query when `pin` is None."""
    data = pad_pin(pin) if pin is not None else b""
    return CommandApdu(0, INS_VERIFY, 0x00, KeyRef.PIN, data)


def logout_apdu() -> CommandApdu:
    return CommandApdu(0, INS_VERIFY, 0xFF, KeyRef.PIN)


def change_reference_apdu(ref: KeyRef, old: str, new: str) -> CommandApdu:
    return CommandApdu(0, INS_CHANGE_REFERENCE, 0, ref, pad_pin(old) + pad_pin(new))


def reset_retry_apdu(puk: str, new_pin: str) -> CommandApdu:
    return CommandApdu(0, INS_RESET_RETRY, 0, KeyRef.PIN, pad_pin(puk) + pad_pin(new_pin))


def sign_apdu(slot: Slot, digest: bytes, algorithm: Algorithm = Algorithm.ECCP256) -> CommandApdu:
    if not 1 <= len(digest) <= DIGEST_MAX_LEN:
        raise ValueError("a P-256 digest has at most 32 bytes")
    data = tlv(TAG_DYN_AUTH, tlv(TAG_AUTH_RESPONSE) + tlv(TAG_AUTH_CHALLENGE, digest))
    return CommandApdu(0, INS_GENERAL_AUTHENTICATE, algorithm, slot, data, le=256)


def mgmt_witness_apdu(algorithm: Algorithm) -> CommandApdu:
    data = tlv(TAG_DYN_AUTH, tlv(TAG_AUTH_WITNESS))
    return CommandApdu(0, INS_GENERAL_AUTHENTICATE, algorithm, KeyRef.MANAGEMENT, data, le=256)


def mgmt_response_apdu(algorithm: Algorithm, witness: bytes, challenge: bytes) -> CommandApdu:
    inner = tlv(TAG_AUTH_WITNESS, witness) + tlv(TAG_AUTH_CHALLENGE, challenge)
    return CommandApdu(0, INS_GENERAL_AUTHENTICATE, algorithm, KeyRef.MANAGEMENT,
                       tlv(TAG_DYN_AUTH, inner), le=256)


def generate_key_apdu(slot: Slot, algorithm: Algorithm = Algorithm.ECCP256) -> CommandApdu:
    data = tlv(TAG_GEN_CONTROL, tlv(TAG_GEN_ALGORITHM, bytes([algorithm])))
    return CommandApdu(0, INS_GENERATE_ASYMMETRIC, 0, slot, data, le=256)


def set_mgmkey_apdu(key: bytes, algorithm: Algorithm) -> CommandApdu:
    if MGMT_KEY_LENGTHS.get(algorithm) != len(key):
        raise ValueError("management key length does not fit its algorithm")
    data = bytes([algorithm, KeyRef.MANAGEMENT, len(key)]) + key
    return CommandApdu(0, INS_SET_MGMKEY, 0xFF, 0xFF, data)


def set_pin_retries_apdu(pin_tries: int, puk_tries: int) -> CommandApdu:
    return CommandApdu(0, INS_SET_PIN_RETRIES, pin_tries, puk_tries)


# --- object codecs ------------------------------------------------------------


def certificate_object(der: bytes) -> bytes:
    """53 { 70 cert, 71 00 (uncompressed), FE (no LRC) } as SP 800-73 and OpenSC want."""
    return tlv(TAG_OBJ_DATA, tlv(TAG_CERTIFICATE, der) + tlv(TAG_CERT_INFO, b"\x00")
               + tlv(TAG_LRC))


def parse_certificate_object(obj: bytes) -> bytes:
    try:
        fields = tlv_dict(unwrap(obj, TAG_OBJ_DATA))
    except TlvError as exc:
        raise BadResponseError(f"certificate object: {exc}") from exc
    if fields.get(TAG_CERT_INFO, b"\x00") not in (b"\x00", b""):
        raise BadResponseError("compressed certificates are not supported")
    cert = fields.get(TAG_CERTIFICATE)
    if not cert:
        raise BadResponseError("certificate object without a certificate")
    return cert


def chuid_object(guid: bytes, expiry: str = "20991231") -> bytes:
    """A CHUID with an all-nines FASC-N placeholder, the card GUID, expiry, no signature."""
    if len(guid) != 16:
        raise ValueError("a GUID has 16 bytes")
    fascn = bytes.fromhex("D4E739DA739CED39CE739D836858210842108421C84210C3EB")
    body = (tlv(TAG_CHUID_FASC_N, fascn) + tlv(TAG_CHUID_GUID, guid)
            + tlv(TAG_CHUID_EXPIRY, expiry.encode("ascii")) + tlv(TAG_CHUID_SIGNATURE)
            + tlv(TAG_LRC))
    return tlv(TAG_OBJ_DATA, body)


def parse_chuid_guid(obj: bytes) -> bytes:
    try:
        guid = tlv_dict(unwrap(obj, TAG_OBJ_DATA)).get(TAG_CHUID_GUID)
    except TlvError as exc:
        raise BadResponseError(f"CHUID: {exc}") from exc
    if guid is None or len(guid) != 16:
        raise BadResponseError("CHUID without a 16-byte GUID")
    return guid


def discovery_object() -> bytes:
    """7E { 4F AID, 5F2F 40 00 }: PIV PIN only, no pairing code."""
    return tlv(TAG_DISCOVERY, tlv(0x4F, AID) + tlv(0x5F2F, b"\x40\x00"))


def parse_ec_public_point(data: bytes) -> bytes:
    """The uncompressed point from 7F49 { 86 04||X||Y }."""
    try:
        point = tlv_dict(unwrap(data, TAG_PUBLIC_KEY)).get(TAG_EC_POINT)
    except TlvError as exc:
        raise BadResponseError(f"public key: {exc}") from exc
    if point is None or len(point) != 65 or point[0] != 0x04:
        raise BadResponseError("public key without an uncompressed P-256 point")
    return point


def dyn_auth_field(data: bytes, tag: int) -> bytes:
    """A field inside a 7C dynamic-authentication template."""
    try:
        fields = tlv_dict(unwrap(data, TAG_DYN_AUTH))
    except TlvError as exc:
        raise BadResponseError(f"dynamic authentication template: {exc}") from exc
    if tag not in fields:
        raise BadResponseError(f"dynamic authentication template without tag {tag:02X}")
    return fields[tag]
