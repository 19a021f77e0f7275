"""Our PIV client: what the daemon and issuance ask of a card, over any connection.

The connection is anything with `transmit(bytes) -> bytes` (PC/SC in production, the
virtual card's engine in unit tests), so this module has no I/O of its own.
"""

from __future__ import annotations

import os
import uuid
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric import ec

from card_reader import mgmkey
from card_reader import piv as p
from card_reader.piv import Algorithm, CommandApdu, KeyRef, ObjectId, ResponseApdu, Slot

MAX_GET_RESPONSE = 64  # a certificate of 4 KB needs 17; more means a confused card


class Connection(Protocol):
    """A channel to one card: a command APDU in, the response APDU (with SW) out."""

    def transmit(self, apdu: bytes) -> bytes: ...


class PivSession:
    """PIV commands on one card; raises the typed errors of `card_reader.piv`."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    # --- transport ------------------------------------------------------------

    def send(self, cmd: CommandApdu) -> ResponseApdu:
        """Send one command (chained if long), collecting 61xx continuations."""
        parts = p.chain(cmd)
        for part in parts[:-1]:
            ResponseApdu.parse(self.connection.transmit(part.encode())).check()
        resp = ResponseApdu.parse(self.connection.transmit(parts[-1].encode()))
        data = bytearray(resp.data)
        for _ in range(MAX_GET_RESPONSE):
            if resp.sw1 != 0x61:
                break
            raw = self.connection.transmit(p.get_response_apdu(resp.sw2).encode())
            resp = ResponseApdu.parse(raw)
            data += resp.data
        else:
            raise p.BadResponseError("too many GET RESPONSE rounds")
        return ResponseApdu(bytes(data), resp.sw)

    def call(self, cmd: CommandApdu) -> bytes:
        return self.send(cmd).check()

    # --- reading --------------------------------------------------------------

    def select(self) -> bytes:
        """Select PIV; returns the application property template."""
        return self.call(p.select_apdu())

    def read_object(self, oid: ObjectId) -> bytes:
        """The whole object TLV (53 ... or 7E ...); NotFoundError when absent."""
        return self.call(p.get_data_apdu(oid))

    def read_certificate(self, slot: Slot) -> bytes:
        """The DER certificate of a key slot."""
        return p.parse_certificate_object(self.read_object(ObjectId.for_slot(slot)))

    def read_card_uuid(self) -> uuid.UUID:
        return uuid.UUID(bytes=p.parse_chuid_guid(self.read_object(ObjectId.CHUID)))

    # --- PIN ------------------------------------------------------------------

    def verify_pin(self, pin: str) -> None:
        """InvalidPinError (with attempts_remaining) or PinBlockedError on failure."""
        if not p.pin_is_valid(pin):
            raise ValueError("a PIN has 6 to 8 digits")
        self.call(p.verify_apdu(pin))

    def pin_attempts_remaining(self) -> int | None:
        """Tries left, 0 when blocked, None when the PIN is verified already."""
        resp = self.send(p.verify_apdu(None))
        if resp.sw == p.SW_OK:
            return None
        if resp.sw == p.SW_AUTH_BLOCKED:
            return 0
        if resp.sw & 0xFFF0 == p.SW_VERIFY_FAIL:
            return resp.sw & 0x0F
        p.check_sw(resp.sw)
        return None

    def logout(self) -> None:
        self.call(p.logout_apdu())

    def change_pin(self, old: str, new: str) -> None:
        if not p.pin_is_valid(new):
            raise ValueError("a PIN has 6 to 8 digits")
        self.call(p.change_reference_apdu(KeyRef.PIN, old, new))

    def change_puk(self, old: str, new: str) -> None:
        self.call(p.change_reference_apdu(KeyRef.PUK, old, new))

    def unblock_pin(self, puk: str, new_pin: str) -> None:
        if not p.pin_is_valid(new_pin):
            raise ValueError("a PIN has 6 to 8 digits")
        self.call(p.reset_retry_apdu(puk, new_pin))

    # --- signing --------------------------------------------------------------

    def sign_digest(self, slot: Slot, digest: bytes) -> bytes:
        """A DER ECDSA signature over a SHA-256 digest with the P-256 key in `slot`."""
        data = self.call(p.sign_apdu(slot, digest))
        return p.dyn_auth_field(data, p.TAG_AUTH_RESPONSE)

    # --- personalisation (needs the management key) ---------------------------

    def authenticate(self, key: bytes, algorithm: Algorithm = Algorithm.TDES) -> None:
        """Mutual authentication with the 9B management key."""
        encrypted = p.dyn_auth_field(self.call(p.mgmt_witness_apdu(algorithm)),
                                     p.TAG_AUTH_WITNESS)
        if len(encrypted) != mgmkey.block_size(algorithm):
            raise p.BadResponseError("witness of the wrong size")
        witness = mgmkey.decrypt_block(algorithm, key, encrypted)
        challenge = os.urandom(mgmkey.block_size(algorithm))
        data = self.call(p.mgmt_response_apdu(algorithm, witness, challenge))
        answer = p.dyn_auth_field(data, p.TAG_AUTH_RESPONSE)
        if answer != mgmkey.encrypt_block(algorithm, key, challenge):
            raise p.BadResponseError("the card does not hold this management key")

    def set_management_key(self, key: bytes, algorithm: Algorithm = Algorithm.TDES) -> None:
        self.call(p.set_mgmkey_apdu(key, algorithm))

    def set_pin_retries(self, pin_tries: int, puk_tries: int) -> None:
        self.call(p.set_pin_retries_apdu(pin_tries, puk_tries))

    def generate_key(self, slot: Slot) -> ec.EllipticCurvePublicKey:
        """A new P-256 key made on the card; the private half never leaves it."""
        point = p.parse_ec_public_point(self.call(p.generate_key_apdu(slot)))
        try:
            return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
        except ValueError as exc:
            raise p.BadResponseError("public key is not a P-256 point") from exc

    def put_object(self, oid: ObjectId, value: bytes) -> None:
        self.call(p.put_data_apdu(oid, value))

    def put_certificate(self, slot: Slot, der: bytes) -> None:
        self.put_object(ObjectId.for_slot(slot), p.certificate_object(der))

    def put_chuid(self, card_uuid: uuid.UUID) -> None:
        self.put_object(ObjectId.CHUID, p.chuid_object(card_uuid.bytes))
