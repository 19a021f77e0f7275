"""Cards for a synthetic city: a real card record, with real certificates, per citizen.

The card table keeps each certificate's SHA-256 and serial, not the certificate: a
row is only a card if a certificate with that fingerprint exists, signed by the
city's CA, for a key someone can sign with. Fingerprints of made-up bytes, or
certificates over a small pool of shared keys, would fill the table with cards
that can never authenticate, or that all share keys. So every card here gets its
own two P-256 keys and its own two certificates from `certificates.certify`, the
code that certifies a physical card's keys.

What differs from a physical card is where the private keys live. A card makes
and keeps its own; here each key is derived from the CA's card-key secret and the
card's UUID, and its certificate is made deterministically (serial derived the same
way, RFC 6979 signature), so whoever holds the CA directory (the tests, the
benchmarks) rebuilds any card from its registry row (`rebuild`) and authenticates
with it through the real flow, while the database holds nothing secret. Such cards
are test cards: never hand them to anyone.

Cost, measured with cryptography 51 on one core: deriving a key ~19 us, certifying
it ~75 us, DER + SHA-256 ~8 us; about 0.2 ms a card for its two keys, ~35 CPU
minutes for 10 million cards, which `synthetic_load.py` spreads over the cores.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from backend.cards.ca import CARD_KEY_SECRET, CaError, IssuingCA, fingerprint
from backend.cards.certificates import BACKDATE, CardIdentity, certify

KEY_REFS = ("9A", "9E")
SERIAL_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # as lifecycle.new_serial's
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
# The cards table's columns, in the order `CardMaker.row` returns them.
COLUMNS = ("serial", "card_uuid", "citizen_id", "status", "issued_at", "expires_at",
           "cert_9a_sha256", "cert_9e_sha256", "cert_9a_serial", "cert_9e_serial",
           "tap_locked")


def card_secret(ca_dir: str | Path) -> bytes:
    """The CA's card-key secret (`ca.CARD_KEY_SECRET`), the root of every derived key."""
    path = Path(ca_dir) / CARD_KEY_SECRET
    if not path.exists():
        raise CaError(f"no card key secret at {path}: run `satukartu ca init`")
    return bytes.fromhex(path.read_text().strip())


@dataclass(frozen=True)
class SyntheticCard:
    """A synthetic card as the hub sees it, with the keys a physical card would hold."""

    citizen_id: int
    serial: str
    card_uuid: uuid.UUID
    keys: dict[str, ec.EllipticCurvePrivateKey]
    certificates: dict[str, x509.Certificate]

    def der(self, key_ref: str) -> bytes:
        return self.certificates[key_ref].public_bytes(serialization.Encoding.DER)


class CardMaker:
    """Makes and rebuilds the synthetic cards of one CA; cheap to copy into processes."""

    def __init__(self, ca: IssuingCA, secret: bytes) -> None:
        self.ca = ca
        self.secret = secret

    def _derive(self, label: str, card_uuid: uuid.UUID) -> bytes:
        message = f"satukartu-synthetic|{label}|{card_uuid}".encode()
        return hmac.new(self.secret, message, hashlib.sha512).digest()

    def key(self, card_uuid: uuid.UUID, key_ref: str) -> ec.EllipticCurvePrivateKey:
        scalar = int.from_bytes(self._derive(f"key-{key_ref}", card_uuid)) % (P256_ORDER - 1)
        return ec.derive_private_key(scalar + 1, ec.SECP256R1())

    def certificate_serial(self, card_uuid: uuid.UUID, key_ref: str) -> int:
        """159 bits, positive, as `x509.random_serial_number` gives."""
        return int.from_bytes(self._derive(f"cert-{key_ref}", card_uuid)[:20]) >> 1 or 1

    def card_serial(self, card_uuid: uuid.UUID) -> str:
        bits = int.from_bytes(self._derive("serial", card_uuid)[:8]) >> 4  # 60 bits
        chars = "".join(SERIAL_ALPHABET[(bits >> (5 * i)) & 31] for i in range(12))
        return "-".join(chars[i:i + 4] for i in range(0, 12, 4))

    def card(self, citizen_id: int, national_number: str, card_uuid: uuid.UUID,
             issued_at: dt.datetime, expires_at: dt.datetime) -> SyntheticCard:
        """The card with this UUID: the same keys and certificates every time."""
        serial = self.card_serial(card_uuid)
        ident = CardIdentity(national_number, card_uuid, serial, expires_at)
        keys = {ref: self.key(card_uuid, ref) for ref in KEY_REFS}
        certificates = {ref: certify(self.ca, keys[ref].public_key(), ref, ident,
                                     not_before=issued_at - BACKDATE,
                                     serial_number=self.certificate_serial(card_uuid, ref),
                                     deterministic=True) for ref in KEY_REFS}
        return SyntheticCard(citizen_id, serial, card_uuid, keys, certificates)

    def row(self, citizen_id: int, national_number: str, issued_at: dt.datetime,
            expires_at: dt.datetime) -> tuple[Any, ...]:
        """A new active card for the citizen, as a row of the cards table (`COLUMNS`)."""
        made = self.card(citizen_id, national_number, uuid.uuid4(), issued_at, expires_at)
        certs = made.certificates
        return (made.serial, str(made.card_uuid), citizen_id, "active", issued_at, expires_at,
                fingerprint(certs["9A"]), fingerprint(certs["9E"]),
                f"{certs['9A'].serial_number:x}", f"{certs['9E'].serial_number:x}", False)

    def rebuild(self, citizen_id: int, national_number: str, card_uuid: str,
                issued_at: dt.datetime, expires_at: dt.datetime,
                fingerprints: tuple[str, str] | None = None) -> SyntheticCard:
        """The card behind a cards row; with the row's fingerprints (9A, 9E), checked
        against them, so a row this maker did not make fails here, not at the hub."""
        made = self.card(citizen_id, national_number, uuid.UUID(card_uuid), issued_at,
                         expires_at)
        if fingerprints is not None and fingerprints != tuple(
                fingerprint(made.certificates[ref]) for ref in KEY_REFS):
            raise CaError(f"card {card_uuid} was not made by this CA's synthetic maker")
        return made

    # --- across processes: the maker travels as PEM and the secret ---------------------

    def portable(self) -> tuple[bytes, bytes, bytes, bytes]:
        ca = self.ca
        key = ca.key.private_bytes(serialization.Encoding.PEM,
                                   serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption())
        return (ca.certificate.public_bytes(serialization.Encoding.PEM), key,
                ca.root.public_bytes(serialization.Encoding.PEM), self.secret)

    @classmethod
    def from_portable(cls, parts: tuple[bytes, bytes, bytes, bytes]) -> CardMaker:
        cert, key, root, secret = parts
        private = serialization.load_pem_private_key(key, None)
        assert isinstance(private, ec.EllipticCurvePrivateKey)
        return cls(IssuingCA(x509.load_pem_x509_certificate(cert), private,
                             x509.load_pem_x509_certificate(root)), secret)

