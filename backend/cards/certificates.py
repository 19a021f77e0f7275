"""Certifying a card's public keys: what a SatuKartu card certificate says.

Subject: the city, `serialNumber` = the citizen's national number, CN = card serial
and key. SAN: `urn:uuid:<card UUID>` (as PIV certificates carry the card's UUID).
keyUsage digitalSignature (critical), extendedKeyUsage clientAuth, and a certificate
policy that tells the PIN key (9A, assurance `pin`) from the tap key (9E, `tap`), so a
signature made without a PIN cannot pass for one made with it. Validity ends no later
than the card, nor than the issuing CA.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from backend.cards.ca import IssuingCA

# A private arc of our own: 2.25 is the ITU-T arc of UUID-derived identifiers (X.667).
POLICY_ARC = "2.25.308106027596061610169480287645529378990"
POLICY_PIN = ObjectIdentifier(POLICY_ARC + ".1.1")  # key 9A: signed after VERIFY PIN
POLICY_TAP = ObjectIdentifier(POLICY_ARC + ".1.2")  # key 9E: signed without a PIN
POLICY_BY_KEY = {"9A": POLICY_PIN, "9E": POLICY_TAP}
KEY_BY_POLICY = {oid: key for key, oid in POLICY_BY_KEY.items()}
KEY_NAMES = {"9A": "PIV Authentication", "9E": "Card Authentication"}
BACKDATE = dt.timedelta(minutes=5)  # tolerate terminals whose clocks run a little behind


@dataclass(frozen=True)
class CardIdentity:
    """Who and which card a certificate speaks for."""

    national_number: str
    card_uuid: uuid.UUID
    serial: str
    expires_at: dt.datetime


@dataclass(frozen=True)
class Profile:
    """What goes in the extensions; the default is the only one the hub issues.

    The test fixtures build deliberately wrong certificates with other profiles to
    prove that the token check refuses each of them.
    """

    digital_signature: bool = True
    extended_usages: Sequence[ObjectIdentifier] = (ExtendedKeyUsageOID.CLIENT_AUTH,)
    policy_key: str | None = None  # None: the key's own policy


DEFAULT_PROFILE = Profile()


def _subject(ca: IssuingCA, ident: CardIdentity, key_ref: str) -> x509.Name:
    org = ca.name.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "ID")]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, str(org[0].value)))
    attrs += [
        x509.NameAttribute(NameOID.SERIAL_NUMBER, ident.national_number),
        x509.NameAttribute(NameOID.COMMON_NAME, f"{ident.serial} {KEY_NAMES[key_ref]}"),
    ]
    return x509.Name(attrs)


def _key_usage(digital_signature: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=digital_signature,
                         content_commitment=not digital_signature, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                         crl_sign=False, encipher_only=False, decipher_only=False)


def certify(ca: IssuingCA, public_key: ec.EllipticCurvePublicKey, key_ref: str,
            ident: CardIdentity, *, not_before: dt.datetime | None = None,
            not_after: dt.datetime | None = None,
            profile: Profile = DEFAULT_PROFILE, serial_number: int | None = None,
            deterministic: bool = False) -> x509.Certificate:
    """A certificate for one card key (`9A` or `9E`), signed by the issuing CA.

    `serial_number` and `deterministic` (an RFC 6979 signature) make the same inputs
    give the same certificate, byte for byte: synthetic cards (`synthetic.py`) are
    rebuilt from their registry row instead of being stored.
    """
    if key_ref not in POLICY_BY_KEY:
        raise ValueError(f"no certificate profile for key {key_ref}")
    if not isinstance(public_key.curve, ec.SECP256R1):
        raise ValueError("card keys are ECC P-256")
    start = not_before or dt.datetime.now(dt.UTC) - BACKDATE
    end = not_after or min(ident.expires_at, ca.certificate.not_valid_after_utc)
    policy = POLICY_BY_KEY[profile.policy_key or key_ref]
    builder = (
        x509.CertificateBuilder()
        .subject_name(_subject(ca, ident, key_ref)).issuer_name(ca.name)
        .public_key(public_key)
        .serial_number(serial_number or x509.random_serial_number())
        .not_valid_before(start).not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(profile.digital_signature), critical=True)
        .add_extension(x509.ExtendedKeyUsage(list(profile.extended_usages)), critical=False)
        .add_extension(x509.CertificatePolicies([x509.PolicyInformation(policy, None)]),
                       critical=False)
        .add_extension(x509.SubjectAlternativeName(
            [x509.UniformResourceIdentifier(f"urn:uuid:{ident.card_uuid}")]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            ca.key.public_key()), critical=False)
    )
    return builder.sign(ca.key, hashes.SHA256(), ecdsa_deterministic=deterministic or None)
