"""Judging a card without the hub: the bundle kept on disk, the chain, the CRL.

The hub's bundle (`offline_wire.Bundle`) carries the city's roots, its issuing CA
certificates and the issuing CA's latest CRL. A card's 9A certificate is trusted
offline when it was signed by one of the issuing certificates, that certificate by
one of the roots, both valid now, and the card's serial is not on a CRL that the
issuer signed and that is not older than its nextUpdate plus the city's grace. A CRL
past that is not trusted at all: the daemon then refuses offline redemptions
(`offline_not_ready`) rather than trust a list that may miss a revoked card; so does
a daemon whose clock is more than CLOCK_SKEW behind the CRL's thisUpdate.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec

from card_reader.daemon import Refused
from card_reader.offline_wire import Bundle, OfflineWireError

log = logging.getLogger(__name__)

BUNDLE_FILE = "bundle.json"
CLOCK_SKEW = dt.timedelta(minutes=5)  # a CRL issued this far ahead of our clock is tolerated


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """`cert` names `issuer` and carries its valid signature."""
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _valid_at(cert: x509.Certificate, now: dt.datetime) -> bool:
    return cert.not_valid_before_utc <= now <= cert.not_valid_after_utc


class BundleStore:
    """The latest bundle, in one file of the offline directory.

    Written atomically (a temporary file, fsync, rename, fsync of the directory), so
    a power cut leaves the old bundle or the new one, never half of one.
    """

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / BUNDLE_FILE

    def load(self) -> Bundle | None:
        try:
            return Bundle.from_dict(json.loads(self.path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError, KeyError, OfflineWireError) as exc:
            log.warning("offline bundle unreadable, ignored", extra={
                "event": "offline_bundle_unreadable", "error": str(exc)})
            return None

    def save(self, bundle: Bundle) -> None:
        raw = json.dumps(bundle.to_dict(), sort_keys=True).encode("utf-8")
        temp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, raw)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


@dataclass(frozen=True)
class TrustedCard:
    """A card certificate that passed: its serial as the wire names it, and its key."""

    certificate: bytes
    serial_hex: str
    public_key: ec.EllipticCurvePublicKey


class Trust:
    """One bundle, parsed once: the issuers that chain to a root, and the CRL if one
    of them signed it."""

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self.roots = [x509.load_pem_x509_certificate(p.encode()) for p in bundle.roots]
        issuers = [x509.load_pem_x509_certificate(p.encode()) for p in bundle.issuers]
        # Each issuing certificate with the root that signed it; the others are dropped.
        self.chains = [(i, root) for i in issuers
                       for root in [next((r for r in self.roots if _signed_by(i, r)), None)]
                       if root is not None]
        self.issuers = [issuer for issuer, _ in self.chains]
        self.crl: x509.CertificateRevocationList | None = None
        self.crl_number = 0
        self.crl_issuer: x509.Certificate | None = None
        try:
            crl = x509.load_der_x509_crl(bundle.crl)
        except ValueError:
            crl = None
        if crl is not None:
            for issuer in self.issuers:
                key = issuer.public_key()
                if crl.issuer == issuer.subject and isinstance(key, ec.EllipticCurvePublicKey) \
                        and crl.is_signature_valid(key):
                    self.crl, self.crl_issuer = crl, issuer
                    break
        if self.crl is not None:
            with contextlib.suppress(x509.ExtensionNotFound):
                self.crl_number = int(self.crl.extensions.get_extension_for_class(
                    x509.CRLNumber).value.crl_number)

    def ready(self, now: dt.datetime | None = None) -> bool:
        """A CRL we trust, within its nextUpdate plus the city's grace, and not issued
        in our future: a daemon whose clock is behind the CRL's thisUpdate (beyond
        CLOCK_SKEW) has a wrong clock, and the hub would refuse what it signs."""
        if self.crl is None or self.crl.next_update_utc is None:
            return False
        now = now or utcnow()
        if now < self.crl.last_update_utc - CLOCK_SKEW:
            return False
        grace = dt.timedelta(hours=self.bundle.crl_grace_hours)
        return now <= self.crl.next_update_utc + grace

    def judge(self, der: bytes, now: dt.datetime | None = None) -> TrustedCard:
        """The card's 9A certificate judged offline, or Refused with the reason."""
        now = now or utcnow()
        if not self.ready(now):
            raise Refused("offline_not_ready", "no CRL within its nextUpdate and grace")
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError as exc:
            raise Refused("card_untrusted", "the card's certificate does not parse") from exc
        issuer, root = next(((i, r) for i, r in self.chains if _signed_by(cert, i)),
                            (None, None))
        if issuer is None or root is None:
            raise Refused("card_untrusted", "not signed by the city's issuing CA")
        key = cert.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
            raise Refused("card_untrusted", "the card's key is not P-256")
        with contextlib.suppress(x509.ExtensionNotFound):
            if cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
                raise Refused("card_untrusted", "a CA certificate is not a card's")
        if not all(_valid_at(c, now) for c in (cert, issuer, root)):
            raise Refused("card_expired", "the card's certificate is not valid now")
        assert self.crl is not None  # ready() said so
        if issuer.subject != self.crl.issuer:  # revocations of its issuer unknown here
            raise Refused("offline_not_ready", "no CRL of the card's issuing CA")
        if self.crl.get_revoked_certificate_by_serial_number(cert.serial_number):
            raise Refused("card_revoked", "the card's certificate is on the CRL")
        return TrustedCard(der, f"{cert.serial_number:x}", key)
