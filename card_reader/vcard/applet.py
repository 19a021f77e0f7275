"""The PIV application of the virtual card: what each command means.

Works on whole commands (chaining and GET RESPONSE are the engine's job) and on a
CardState; every change to the state is saved before the answer leaves the card.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from card_reader import ber, mgmkey
from card_reader import piv as p
from card_reader.piv import CommandApdu, ResponseApdu
from card_reader.vcard.state import CardState

MAX_OBJECT_BYTES = 8192
SIGNING_SLOTS = {int(s) for s in p.Slot}
PIN_SLOTS = SIGNING_SLOTS - {p.Slot.CARD_AUTH}


def _sw(sw: int) -> ResponseApdu:
    return ResponseApdu(b"", sw)


class PivApplet:
    """PIV card logic over a CardState; `save` persists the state."""

    def __init__(self, state: CardState, save: Callable[[CardState], None]) -> None:
        self.state = state
        self._save = save
        self.reset()
        self._handlers: dict[int, Callable[[CommandApdu], ResponseApdu]] = {
            p.INS_SELECT: self._select,
            p.INS_GET_DATA: self._get_data,
            p.INS_VERIFY: self._verify,
            p.INS_CHANGE_REFERENCE: self._change_reference,
            p.INS_RESET_RETRY: self._reset_retry,
            p.INS_GENERAL_AUTHENTICATE: self._general_authenticate,
            p.INS_GENERATE_ASYMMETRIC: self._generate,
            p.INS_PUT_DATA: self._put_data,
            p.INS_SET_MGMKEY: self._set_mgmkey,
            p.INS_SET_PIN_RETRIES: self._set_pin_retries,
        }

    def reset(self) -> None:
        """Power cycle: security status is lost, PIV stays the current application."""
        self.pin_verified = False
        self.mgmt_authenticated = False
        self._witness: bytes | None = None
        self._challenge: bytes | None = None

    def handle(self, cmd: CommandApdu) -> ResponseApdu:
        if cmd.cla & ~p.CLA_CHAIN & 0xFF:
            return _sw(p.SW_CLA_NOT_SUPPORTED)
        handler = self._handlers.get(cmd.ins)
        if handler is None:
            return _sw(p.SW_INS_NOT_SUPPORTED)
        return handler(cmd)

    # --- application and data objects --------------------------------------

    def _select(self, cmd: CommandApdu) -> ResponseApdu:
        aid = cmd.data
        if cmd.p1 == 0x04 and p.AID_MIN_PREFIX <= len(aid) <= len(p.AID) and \
                p.AID.startswith(aid):
            return ResponseApdu(p.APPLICATION_TEMPLATE)
        # Unknown applet: say so, and keep PIV selected (yubico-piv-tool relies on it).
        return _sw(p.SW_FILE_NOT_FOUND)

    def _object_id(self, cmd: CommandApdu) -> tuple[int, bytes] | ResponseApdu:
        if (cmd.p1, cmd.p2) != (0x3F, 0xFF):
            return _sw(p.SW_INCORRECT_P1P2)
        try:
            item = ber.parse_tlv(cmd.data)
        except ber.TlvError:
            return _sw(p.SW_WRONG_DATA)
        if item.tag != p.TAG_OBJ_ID or len(item.value) not in (1, 3):
            return _sw(p.SW_WRONG_DATA)
        return int.from_bytes(item.value, "big"), cmd.data[item.length:]

    def _get_data(self, cmd: CommandApdu) -> ResponseApdu:
        parsed = self._object_id(cmd)
        if isinstance(parsed, ResponseApdu):
            return parsed
        oid, _ = parsed
        if oid == p.ObjectId.PRINTED and not self.pin_verified:
            return _sw(p.SW_SECURITY_STATUS)
        value = self.state.objects.get(f"{oid:X}")
        if value is not None:
            return ResponseApdu(bytes.fromhex(value))
        if oid == p.ObjectId.DISCOVERY:
            return ResponseApdu(p.discovery_object())
        return _sw(p.SW_FILE_NOT_FOUND)

    def _put_data(self, cmd: CommandApdu) -> ResponseApdu:
        if not self.mgmt_authenticated:
            return _sw(p.SW_SECURITY_STATUS)
        parsed = self._object_id(cmd)
        if isinstance(parsed, ResponseApdu):
            return parsed
        oid, rest = parsed
        if len(rest) > MAX_OBJECT_BYTES:
            return _sw(p.SW_NOT_ENOUGH_MEMORY)
        expected = p.TAG_DISCOVERY if oid == p.ObjectId.DISCOVERY else p.TAG_OBJ_DATA
        try:
            item = ber.parse_tlv(rest)
        except ber.TlvError:
            return _sw(p.SW_WRONG_DATA)
        if item.tag != expected or item.length != len(rest):
            return _sw(p.SW_WRONG_DATA)
        if item.value:
            self.state.objects[f"{oid:X}"] = rest.hex()
        else:
            self.state.objects.pop(f"{oid:X}", None)
        self._save(self.state)
        return _sw(p.SW_OK)

    # --- PIN and PUK ----------------------------------------------------------

    def _remaining_sw(self, remaining: int) -> int:
        return p.SW_VERIFY_FAIL | min(remaining, 0x0F)

    def _check_reference(self, ref: int, candidate: bytes) -> int:
        """Compare against the PIN or PUK, counting a failure; the status word to send."""
        attr_value, attr_left, attr_max = (
            ("pin", "pin_remaining", "pin_retries") if ref == p.KeyRef.PIN
            else ("puk", "puk_remaining", "puk_retries"))
        left = getattr(self.state, attr_left)
        if left <= 0:
            return p.SW_AUTH_BLOCKED
        raw = p.unpad_pin(candidate)
        expected = getattr(self.state, attr_value).encode("ascii")
        if raw is not None and hmac.compare_digest(raw, expected):
            if left != getattr(self.state, attr_max):
                setattr(self.state, attr_left, getattr(self.state, attr_max))
                self._save(self.state)
            return p.SW_OK
        setattr(self.state, attr_left, left - 1)
        self._save(self.state)  # saved before answering: a pulled card cannot undo it
        if ref == p.KeyRef.PIN:
            self.pin_verified = False
        return self._remaining_sw(left - 1)

    def _verify(self, cmd: CommandApdu) -> ResponseApdu:
        if cmd.p2 != p.KeyRef.PIN:
            return _sw(p.SW_REFERENCE_NOT_FOUND)
        if cmd.p1 == 0xFF:
            if cmd.data:
                return _sw(p.SW_INCORRECT_P1P2)
            self.pin_verified = False
            return _sw(p.SW_OK)
        if cmd.p1 != 0x00:
            return _sw(p.SW_INCORRECT_P1P2)
        if not cmd.data:
            if self.state.pin_remaining <= 0:
                return _sw(p.SW_AUTH_BLOCKED)
            return _sw(p.SW_OK if self.pin_verified else
                       self._remaining_sw(self.state.pin_remaining))
        if len(cmd.data) != p.PIN_MAX_LEN:
            return _sw(p.SW_WRONG_DATA)
        sw = self._check_reference(p.KeyRef.PIN, cmd.data)
        if sw == p.SW_OK:
            self.pin_verified = True
        return _sw(sw)

    def _new_reference_ok(self, ref: int, padded: bytes) -> str | None:
        raw = p.unpad_pin(padded)
        if raw is None:
            return None
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            return None
        if ref == p.KeyRef.PIN:
            return text if p.pin_is_valid(text) else None
        return text if p.PIN_MIN_LEN <= len(text) <= p.PIN_MAX_LEN and text.isprintable() \
            else None

    def _change_reference(self, cmd: CommandApdu) -> ResponseApdu:
        if cmd.p1 != 0 or cmd.p2 not in (p.KeyRef.PIN, p.KeyRef.PUK):
            return _sw(p.SW_REFERENCE_NOT_FOUND)
        if len(cmd.data) != 2 * p.PIN_MAX_LEN:
            return _sw(p.SW_WRONG_DATA)
        new = self._new_reference_ok(cmd.p2, cmd.data[8:])
        if new is None:
            return _sw(p.SW_WRONG_DATA)
        sw = self._check_reference(cmd.p2, cmd.data[:8])
        if sw != p.SW_OK:
            return _sw(sw)
        if cmd.p2 == p.KeyRef.PIN:
            self.state.pin = new
            self.pin_verified = True
        else:
            self.state.puk = new
        self._save(self.state)
        return _sw(p.SW_OK)

    def _reset_retry(self, cmd: CommandApdu) -> ResponseApdu:
        if cmd.p1 != 0 or cmd.p2 != p.KeyRef.PIN:
            return _sw(p.SW_REFERENCE_NOT_FOUND)
        if len(cmd.data) != 2 * p.PIN_MAX_LEN:
            return _sw(p.SW_WRONG_DATA)
        new = self._new_reference_ok(p.KeyRef.PIN, cmd.data[8:])
        if new is None:
            return _sw(p.SW_WRONG_DATA)
        sw = self._check_reference(p.KeyRef.PUK, cmd.data[:8])
        if sw != p.SW_OK:
            return _sw(sw)
        self.state.pin = new
        self.state.pin_remaining = self.state.pin_retries
        self._save(self.state)
        return _sw(p.SW_OK)

    def _set_pin_retries(self, cmd: CommandApdu) -> ResponseApdu:
        if not self.mgmt_authenticated:
            return _sw(p.SW_SECURITY_STATUS)
        if not (1 <= cmd.p1 <= p.MAX_PIN_RETRIES and 1 <= cmd.p2 <= p.MAX_PIN_RETRIES):
            return _sw(p.SW_INCORRECT_P1P2)
        self.state.pin_retries = self.state.pin_remaining = cmd.p1
        self.state.puk_retries = self.state.puk_remaining = cmd.p2
        self._save(self.state)
        return _sw(p.SW_OK)

    # --- GENERAL AUTHENTICATE ---------------------------------------------------

    def _general_authenticate(self, cmd: CommandApdu) -> ResponseApdu:
        try:
            fields = ber.tlv_dict(ber.unwrap(cmd.data, p.TAG_DYN_AUTH))
        except ber.TlvError:
            return _sw(p.SW_WRONG_DATA)
        if cmd.p2 == p.KeyRef.MANAGEMENT:
            return self._mgmt_authenticate(cmd.p1, fields)
        if cmd.p2 in SIGNING_SLOTS:
            return self._sign(cmd.p1, cmd.p2, fields)
        return _sw(p.SW_INCORRECT_P1P2)

    def _sign(self, algorithm: int, slot: int, fields: dict[int, bytes]) -> ResponseApdu:
        key_hex = self.state.keys.get(f"{slot:02X}")
        if key_hex is None:
            return _sw(p.SW_FILE_NOT_FOUND)
        if algorithm != p.Algorithm.ECCP256:
            return _sw(p.SW_INCORRECT_P1P2)
        if slot in PIN_SLOTS and not self.pin_verified:
            return _sw(p.SW_SECURITY_STATUS)
        digest = fields.get(p.TAG_AUTH_CHALLENGE)
        if fields.get(p.TAG_AUTH_RESPONSE) != b"" or not digest or \
                len(digest) > p.DIGEST_MAX_LEN:
            return _sw(p.SW_WRONG_DATA)
        key = serialization.load_der_private_key(bytes.fromhex(key_hex), None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        padded = digest.rjust(p.DIGEST_MAX_LEN, b"\x00")  # same integer as the short input
        signature = key.sign(padded, ec.ECDSA(Prehashed(hashes.SHA256())))
        return ResponseApdu(ber.tlv(p.TAG_DYN_AUTH, ber.tlv(p.TAG_AUTH_RESPONSE, signature)))

    def _mgmt_authenticate(self, algorithm: int, fields: dict[int, bytes]) -> ResponseApdu:
        alg = p.Algorithm(self.state.mgmt_algorithm)
        if algorithm not in (alg, 0):
            return _sw(p.SW_INCORRECT_P1P2)
        key = bytes.fromhex(self.state.mgmt_key)
        size = mgmkey.block_size(alg)
        witness, challenge = fields.get(p.TAG_AUTH_WITNESS), fields.get(p.TAG_AUTH_CHALLENGE)
        response = fields.get(p.TAG_AUTH_RESPONSE)
        pending_w, pending_c = self._witness, self._challenge
        self._witness = self._challenge = None
        self.mgmt_authenticated = False
        if witness == b"" and challenge is None:
            self._witness = os.urandom(size)
            out = ber.tlv(p.TAG_AUTH_WITNESS, mgmkey.encrypt_block(alg, key, self._witness))
            return ResponseApdu(ber.tlv(p.TAG_DYN_AUTH, out))
        if witness and challenge and len(challenge) == size:
            if pending_w is None or not hmac.compare_digest(witness, pending_w):
                return _sw(p.SW_SECURITY_STATUS)
            self.mgmt_authenticated = True
            out = ber.tlv(p.TAG_AUTH_RESPONSE, mgmkey.encrypt_block(alg, key, challenge))
            return ResponseApdu(ber.tlv(p.TAG_DYN_AUTH, out))
        if challenge == b"" and witness is None:
            self._challenge = os.urandom(size)  # also OpenSC's random-number source
            return ResponseApdu(ber.tlv(p.TAG_DYN_AUTH,
                                      ber.tlv(p.TAG_AUTH_CHALLENGE, self._challenge)))
        if response and witness is None and challenge is None:
            if pending_c is None or not hmac.compare_digest(
                    response, mgmkey.encrypt_block(alg, key, pending_c)):
                return _sw(p.SW_SECURITY_STATUS)
            self.mgmt_authenticated = True
            return _sw(p.SW_OK)
        return _sw(p.SW_WRONG_DATA)

    # --- personalisation --------------------------------------------------------

    def _generate(self, cmd: CommandApdu) -> ResponseApdu:
        if not self.mgmt_authenticated:
            return _sw(p.SW_SECURITY_STATUS)
        if cmd.p1 != 0 or cmd.p2 not in SIGNING_SLOTS:
            return _sw(p.SW_INCORRECT_P1P2)
        try:
            control = ber.tlv_dict(ber.unwrap(cmd.data, p.TAG_GEN_CONTROL))
        except ber.TlvError:
            return _sw(p.SW_WRONG_DATA)
        if control.get(p.TAG_GEN_ALGORITHM) != bytes([p.Algorithm.ECCP256]):
            return _sw(p.SW_WRONG_DATA)
        key = ec.generate_private_key(ec.SECP256R1())
        self.state.keys[f"{cmd.p2:02X}"] = key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()).hex()
        self._save(self.state)
        point = key.public_key().public_bytes(serialization.Encoding.X962,
                                              serialization.PublicFormat.UncompressedPoint)
        return ResponseApdu(ber.tlv(p.TAG_PUBLIC_KEY, ber.tlv(p.TAG_EC_POINT, point)))

    def _set_mgmkey(self, cmd: CommandApdu) -> ResponseApdu:
        if not self.mgmt_authenticated:
            return _sw(p.SW_SECURITY_STATUS)
        if cmd.p1 != 0xFF or cmd.p2 not in (0xFE, 0xFF):
            return _sw(p.SW_INCORRECT_P1P2)
        data = cmd.data
        if len(data) < 3 or data[1] != p.KeyRef.MANAGEMENT or len(data) != 3 + data[2]:
            return _sw(p.SW_WRONG_DATA)
        try:
            alg = p.Algorithm(data[0])
        except ValueError:
            return _sw(p.SW_WRONG_DATA)
        if p.MGMT_KEY_LENGTHS.get(alg) != data[2]:
            return _sw(p.SW_WRONG_DATA)
        self.state.mgmt_algorithm = int(alg)
        self.state.mgmt_key = data[3:].hex()
        self._save(self.state)
        return _sw(p.SW_OK)
