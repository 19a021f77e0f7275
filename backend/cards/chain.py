"""Is this a certificate our city issued to a card? Checked once per certificate.

A card presents the same certificate at every tap, so the expensive part (parsing,
the issuer's signature, the extensions) is done once and kept by the certificate's
SHA-256; what depends on the moment (validity) or on the token (the key reference)
is checked on every use. Verified chain: card certificate -> a trusted issuing CA,
whose own certificate was checked against the root when the store was loaded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

from backend.cards import ca as ca_files
from backend.cards.certificates import KEY_BY_POLICY
from backend.reasons import Reason

log = logging.getLogger(__name__)
# ~2.9 KiB a certificate (RELIABILITY.md): 20,000 cards in ~58 MiB per worker; a miss
# costs one chain check (~190 us), so the busiest cards of a day stay cached.
CACHE_SIZE = 20_000
UNDERSTOOD_CRITICAL = {ExtensionOID.KEY_USAGE, ExtensionOID.BASIC_CONSTRAINTS}


class CertificateRefused(Exception):
    """The certificate fails a check; `reason` is the refusal the API gives."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class CardCertificate:
    """What the hub needs from a verified card certificate."""

    sha256: str
    serial_hex: str
    card_uuid: str | None
    national_number: str | None
    key_ref: str | None  # the key its policy is for: 9A or 9E
    not_before: dt.datetime
    not_after: dt.datetime  # the earlier of the certificate's and its issuer's
    usage_problem: str | None  # None: digitalSignature, clientAuth, end entity, P-256
    public_key: ec.EllipticCurvePublicKey | None
    untrusted: str | None  # None: signed by a trusted issuing CA

    def check(self, key_ref: str, now: dt.datetime) -> None:
        """Raise the first refusal in the order the token check promises."""
        if self.untrusted:
            raise CertificateRefused(Reason.CERTIFICATE_UNTRUSTED, self.untrusted)
        if now > self.not_after:
            raise CertificateRefused(Reason.CERTIFICATE_EXPIRED, "the certificate has expired")
        if now < self.not_before:
            raise CertificateRefused(Reason.CERTIFICATE_NOT_YET_VALID,
                                     "the certificate is not valid yet")
        if self.usage_problem:
            raise CertificateRefused(Reason.CERTIFICATE_WRONG_USAGE, self.usage_problem)
        if self.key_ref != key_ref:
            raise CertificateRefused(Reason.CERTIFICATE_WRONG_USAGE,
                                     f"the certificate's policy is not for key {key_ref}")


class CertificateMalformed(ValueError):
    """Bytes that are not a DER X.509 certificate with readable extensions."""


def parse_certificate(der: bytes) -> x509.Certificate:
    """Parse fully now (extensions, key), so nothing later trips on a bad encoding."""
    try:
        cert = x509.load_der_x509_certificate(der)
        _ = cert.extensions, cert.public_key(), cert.subject, cert.issuer
        _ = cert.not_valid_before_utc, cert.not_valid_after_utc
    except Exception as exc:  # the parser's errors vary by field: all mean "malformed"
        raise CertificateMalformed(f"the certificate cannot be read: {exc}") from exc
    return cert


def _extension(cert: x509.Certificate, cls: type) -> object | None:
    try:
        return cert.extensions.get_extension_for_class(cls).value
    except x509.ExtensionNotFound:
        return None


def usage_problem(cert: x509.Certificate) -> str | None:
    """Why this certificate may not authenticate a card, or None."""
    for ext in cert.extensions:
        if ext.critical and ext.oid not in UNDERSTOOD_CRITICAL:
            return f"unknown critical extension {ext.oid.dotted_string}"
    basic = _extension(cert, x509.BasicConstraints)
    if basic is not None and basic.ca:  # type: ignore[attr-defined]
        return "a CA certificate cannot authenticate a card"
    usage = _extension(cert, x509.KeyUsage)
    if usage is None or not usage.digital_signature:  # type: ignore[attr-defined]
        return "key usage does not include digitalSignature"
    eku = _extension(cert, x509.ExtendedKeyUsage)
    if eku is None or ExtendedKeyUsageOID.CLIENT_AUTH not in eku:  # type: ignore[operator]
        return "extended key usage does not include clientAuth"
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve,
                                                                           ec.SECP256R1):
        return "the key is not ECC P-256"
    return None


def _policy_key(cert: x509.Certificate) -> str | None:
    policies = _extension(cert, x509.CertificatePolicies)
    keys = {KEY_BY_POLICY.get(p.policy_identifier) for p in policies or ()}  # type: ignore
    keys.discard(None)
    return keys.pop() if len(keys) == 1 else None


def _card_uuid(cert: x509.Certificate) -> str | None:
    san = _extension(cert, x509.SubjectAlternativeName)
    for uri in san.get_values_for_type(x509.UniformResourceIdentifier) if san else ():  # type: ignore
        if uri.lower().startswith("urn:uuid:"):
            try:
                return str(uuid.UUID(uri[9:]))
            except ValueError:
                return None
    return None


def _national_number(cert: x509.Certificate) -> str | None:
    attrs = cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    return str(attrs[0].value) if attrs else None


class TrustStore:
    """The issuing CAs this hub trusts, and the cache of certificates checked against them."""

    def __init__(self, issuers: list[x509.Certificate], cache_size: int = CACHE_SIZE) -> None:
        self.issuers = {issuer.subject.public_bytes(): issuer for issuer in issuers}
        self._cache: OrderedDict[bytes, CardCertificate] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    @classmethod
    def from_directory(cls, ca_dir: str | Path) -> TrustStore:
        """Issuing certificates in CA_DIR that chain to its root; none when not initialised."""
        path = Path(ca_dir)
        if not (path / ca_files.ROOT_CERT).exists():
            return cls([])
        root = ca_files.load_certificate(path / ca_files.ROOT_CERT)
        candidates = [path / ca_files.ISSUING_CERT, *sorted((path / ca_files.TRUSTED_DIR)
                                                            .glob("*.pem"))]
        issuers = []
        for file in candidates:
            if not file.exists():
                continue
            cert = ca_files.load_certificate(file)
            try:
                cert.verify_directly_issued_by(root)
            except (ValueError, TypeError, InvalidSignature):
                log.error("%s is not issued by the root CA; not trusted", file)
                continue
            issuers.append(cert)
        return cls(issuers)

    def __bool__(self) -> bool:
        return bool(self.issuers)

    def inspect(self, der: bytes) -> CardCertificate:
        """The verdict on a certificate, computed on first sight and then kept.

        Raises CertificateMalformed when the bytes are not a certificate we can read.
        """
        key = hashlib.sha256(der).digest()
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
                return found
        verdict = self._examine(key.hex(), parse_certificate(der))
        with self._lock:
            self._cache[key] = verdict
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return verdict

    def _examine(self, digest: str, cert: x509.Certificate) -> CardCertificate:
        issuer = self.issuers.get(cert.issuer.public_bytes())
        untrusted = None
        not_after = cert.not_valid_after_utc
        if issuer is None:
            untrusted = "the certificate is not from a trusted issuing CA"
        else:
            try:
                cert.verify_directly_issued_by(issuer)
            except (ValueError, TypeError, InvalidSignature):
                untrusted = "the issuing CA's signature on the certificate does not verify"
            not_after = min(not_after, issuer.not_valid_after_utc)
        problem = usage_problem(cert)
        key = cert.public_key()
        return CardCertificate(
            sha256=digest, serial_hex=f"{cert.serial_number:x}", card_uuid=_card_uuid(cert),
            national_number=_national_number(cert), key_ref=_policy_key(cert),
            not_before=max(cert.not_valid_before_utc, issuer.not_valid_before_utc)
            if issuer is not None else cert.not_valid_before_utc,
            not_after=not_after, usage_problem=problem,
            public_key=key if problem is None else None,  # type: ignore[arg-type]
            untrusted=untrusted)
