"""The city's issuing CA: an offline root and the issuing intermediate the hub uses.

`satukartu ca init` makes both. The root's private key is written once, to a folder
meant to leave the machine (`offline/` by default); the hub keeps only the root's
certificate, the issuing certificate and the issuing key. Files in SATUKARTU_CA_DIR:

    root-ca.pem          the root certificate (the trust anchor)
    issuing-ca.pem       the issuing intermediate, signed by the root
    issuing-ca.key       its private key (PKCS#8 PEM, mode 0600), unless CA_KEY_URI says
    trusted/*.pem        earlier issuing certificates still trusted during a rollover
    card-keys.secret     the master secret from which each card's 9B key is derived
    offline/root-ca.key  the root key: move it off this machine after `ca init`

A `pkcs11:` URI in SATUKARTU_CA_KEY_URI is the configuration for a key on an HSM; this
build recognises it and refuses to sign with a clear error (see README.md here).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT_CERT = "root-ca.pem"
ISSUING_CERT = "issuing-ca.pem"
ISSUING_KEY = "issuing-ca.key"
TRUSTED_DIR = "trusted"
CARD_KEY_SECRET = "card-keys.secret"
OFFLINE_DIR = "offline"
ROOT_KEY = "root-ca.key"

ROOT_YEARS = 20
ISSUING_YEARS = 10


class CaError(Exception):
    """The CA cannot do what was asked (not initialised, key unavailable, exists)."""


@dataclass(frozen=True)
class IssuingCA:
    """The intermediate that certifies card keys and signs CRLs."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    root: x509.Certificate

    @property
    def name(self) -> x509.Name:
        return self.certificate.subject


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _name(city: str, common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "ID"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, city),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "SatuKartu"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _ca_certificate(subject: x509.Name, public_key: Any, issuer: x509.Name,
                    signer: ec.EllipticCurvePrivateKey, years: int,
                    path_length: int) -> x509.Certificate:
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(issuer).public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365 * years + years // 4))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            signer.public_key()), critical=False)
    )
    digest = hashes.SHA384() if isinstance(signer.curve, ec.SECP384R1) else hashes.SHA256()
    return builder.sign(signer, digest)


def _write(path: Path, data: bytes, private: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    fd = os.open(path, flags, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def init_ca(ca_dir: str | os.PathLike[str], city: str,
            root_key_dir: str | os.PathLike[str] | None = None) -> IssuingCA:
    """Make the root and the issuing CA; refuses to overwrite an existing CA."""
    ca_path = Path(ca_dir)
    if (ca_path / ISSUING_CERT).exists() or (ca_path / ROOT_CERT).exists():
        raise CaError(f"a CA already exists in {ca_path}")
    root_key = ec.generate_private_key(ec.SECP384R1())
    root_name = _name(city, f"{city} SatuKartu Root CA")
    root = _ca_certificate(root_name, root_key.public_key(), root_name, root_key,
                           ROOT_YEARS, 1)
    issuing_key = ec.generate_private_key(ec.SECP256R1())
    issuing = _ca_certificate(_name(city, f"{city} SatuKartu Issuing CA 1"),
                              issuing_key.public_key(), root_name, root_key,
                              ISSUING_YEARS, 0)
    offline = Path(root_key_dir) if root_key_dir else ca_path / OFFLINE_DIR
    _write(offline / ROOT_KEY, _key_pem(root_key), private=True)
    _write(ca_path / ROOT_CERT, _pem(root))
    _write(ca_path / ISSUING_KEY, _key_pem(issuing_key), private=True)
    _write(ca_path / ISSUING_CERT, _pem(issuing))
    _write(ca_path / CARD_KEY_SECRET, secrets.token_hex(32).encode(), private=True)
    return IssuingCA(issuing, issuing_key, root)


def _load_key(settings: dict[str, Any], ca_path: Path) -> ec.EllipticCurvePrivateKey:
    uri = settings.get("CA_KEY_URI") or ""
    if uri.startswith("pkcs11:"):
        raise CaError("the issuing key is configured on a PKCS#11 token "
                      f"({settings.get('CA_PKCS11_MODULE') or 'no module set'}); this build "
                      "signs with file keys only, see backend/cards/README.md")
    path = Path(uri) if uri else ca_path / ISSUING_KEY
    if not path.exists():
        raise CaError(f"no issuing CA key at {path}: run `satukartu ca init`")
    key = serialization.load_pem_private_key(path.read_bytes(), None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CaError(f"{path} is not an EC private key")
    return key


def load_certificate(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def load_issuing_ca(settings: dict[str, Any]) -> IssuingCA:
    """The issuing CA named by the settings (CA_DIR, CA_KEY_URI)."""
    ca_path = Path(settings["CA_DIR"])
    if not (ca_path / ISSUING_CERT).exists():
        raise CaError(f"no issuing CA in {ca_path}: run `satukartu ca init`")
    cert = load_certificate(ca_path / ISSUING_CERT)
    key = _load_key(settings, ca_path)
    if cert.public_key() != key.public_key():
        raise CaError("the issuing key does not belong to the issuing certificate")
    return IssuingCA(cert, key, load_certificate(ca_path / ROOT_CERT))


def card_management_key(settings: dict[str, Any], card_uuid: str) -> bytes:
    """The card's own 9B key (AES-128), derived from the CA's master secret and its UUID.

    Derived rather than stored, so no table of card keys can leak, and the city can
    still re-personalise a card it issued.
    """
    secret_path = Path(settings["CA_DIR"]) / CARD_KEY_SECRET
    if not secret_path.exists():
        raise CaError(f"no card key secret at {secret_path}: run `satukartu ca init`")
    secret = bytes.fromhex(secret_path.read_text().strip())
    return hmac.new(secret, b"satukartu-9b|" + card_uuid.encode(), hashlib.sha256).digest()[:16]


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()
