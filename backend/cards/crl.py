"""The issuing CA's certificate revocation list, for terminals that work offline.

The hub never needs it (it reads the card's status in the authentication's own
transaction); the CRL is what an offline gate or a third party can check. A new CRL
is signed in the same transaction as every status change that affects it, and
re-signed by a periodic task (`tasks.py`) before the last one's nextUpdate.
Suspended cards are listed with reason certificateHold and dropped on reinstatement.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from backend.cards.ca import IssuingCA
from backend.cards.models import Card, PublishedCrl
from backend.cards.store import as_utc, utcnow

CRL_FILE = "issuing-ca.crl"
CRL_DIR = "crl"


def _entries(db: Session, now: dt.datetime) -> list[x509.RevokedCertificate]:
    listed = db.execute(
        select(Card.cert_9a_serial, Card.cert_9e_serial, Card.status, Card.revocation_reason,
               Card.status_changed_at, Card.issued_at)
        .where(Card.status.in_(("suspended", "revoked", "superseded")), Card.expires_at > now)
        .order_by(Card.id)).all()
    entries = []
    for row in listed:
        reason = "certificateHold" if row.status == "suspended" else (
            row.revocation_reason or "unspecified")
        when = as_utc(row.status_changed_at or row.issued_at)
        for serial_hex in (row.cert_9a_serial, row.cert_9e_serial):
            builder = (x509.RevokedCertificateBuilder()
                       .serial_number(int(serial_hex, 16)).revocation_date(when))
            if reason != "unspecified":
                builder = builder.add_extension(
                    x509.CRLReason(x509.ReasonFlags(reason)), critical=False)
            entries.append(builder.build())
    return entries


def _next_number(db: Session) -> int:
    if db.get_bind().dialect.name == "postgresql":
        # Two status changes at once must not both sign CRL number n.
        db.execute(text("SELECT pg_advisory_xact_lock(hashtext('card_crls'))"))
    return (db.execute(select(func.max(PublishedCrl.number))).scalar() or 0) + 1


def publish(db: Session, ca: IssuingCA, validity_hours: int, note: str = "",
            now: dt.datetime | None = None) -> PublishedCrl:
    """Sign a CRL of every unexpired suspended, revoked or superseded card; store it."""
    now = now or utcnow()
    number = _next_number(db)
    next_update = now + dt.timedelta(hours=validity_hours)
    entries = _entries(db, now)
    # All entries at once: the builder copies its list on each add_revoked_certificate,
    # which made a CRL of n entries cost n² (seconds at 20,000 certificates).
    builder = (x509.CertificateRevocationListBuilder(revoked_certificates=entries)
               .issuer_name(ca.name).last_update(now).next_update(next_update)
               .add_extension(x509.CRLNumber(number), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   ca.key.public_key()), critical=False))
    crl = builder.sign(ca.key, hashes.SHA256())
    row = PublishedCrl(number=number, this_update=now, next_update=next_update,
                       der=crl.public_bytes(serialization.Encoding.DER), entries=len(entries),
                       note=note)
    db.add(row)
    db.flush()
    return row


def latest(db: Session) -> PublishedCrl | None:
    return db.execute(select(PublishedCrl).order_by(PublishedCrl.number.desc())
                      .limit(1)).scalar_one_or_none()


def write_file(ca_dir: str | os.PathLike[str], der: bytes) -> Path:
    """Copy a CRL to CA_DIR/crl/ for distribution (atomically replaced)."""
    folder = Path(ca_dir) / CRL_DIR
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / CRL_FILE
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(der)
    os.replace(tmp, target)
    return target
