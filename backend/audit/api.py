"""The audit API: a citizen's access log (card with PIN), and the log for auditors.

Every call here is itself recorded: a citizen viewing their access log, an auditor
listing, verifying or exporting the log.
"""

from __future__ import annotations

import base64
import io
from datetime import datetime
from typing import Literal

from flask import Response, current_app
from pydantic import Field
from sqlalchemy import select

from backend.api.routing import MAX_INT, Api, OutModel, StrictModel
from backend.audit import access, export
from backend.audit.checkpoints import (
    Checkpoint,
    keyring,
    make_checkpoint,
    public_pem,
    signing_key,
)
from backend.audit.checkpoints import from_table as checkpoints_in_table
from backend.audit.models import AuditRecord
from backend.audit.reading import chained_connection
from backend.audit.record import record
from backend.audit.verify import verify_app
from backend.auth.principal import PUBLIC, Requirement, current_principal
from backend.db import database, session
from backend.errors import ApiError
from backend.keys.published import PublishedKey, published
from backend.reasons import Reason

api = Api("audit", url_prefix="/audit")

CITIZEN = Requirement(terminal_kinds=("kiosk", "counter"), card=True, assurance="pin")
AUDITORS = Requirement(roles=("auditor", "admin"))
CHECKPOINTERS = Requirement(roles=("auditor", "admin"))


class AccessQuery(StrictModel):
    limit: int = Field(50, ge=1, le=500)
    before: int | None = Field(None, ge=1, le=MAX_INT,
                               description="page back from this sequence number")


class AccessOut(OutModel):
    seq: int
    at: datetime
    action: str
    reader: str
    role: str | None
    terminal_id: str | None
    office: str | None
    purpose: str | None
    fields: list[str]
    by_you: bool


class AccessLogOut(OutModel):
    citizen_id: int
    entries: list[AccessOut]
    next_before: int | None


def _holder() -> int:
    principal = current_principal()
    assert principal is not None and principal.card is not None
    return principal.card.citizen_id


def _read_own_log(query: AccessQuery, purpose: str) -> tuple[int, list[access.Access]]:
    citizen_id = _holder()
    return citizen_id, own_access_log(citizen_id, purpose, limit=query.limit,
                                      before=query.before)


def own_access_log(citizen_id: int, purpose: str, *, limit: int = 50,
                   before: int | None = None) -> list[access.Access]:
    """The card holder's access log, for the API and the kiosk; reading it is logged too."""
    entries = access.accesses(chained_connection(), citizen_id, limit=limit, before=before)
    record(session(), action=access.ACCESS_LOG_READ, subject_type="citizen",
           subject_id=str(citizen_id), citizen_id=citizen_id, purpose=purpose,
           details={"entries": len(entries)})
    return entries


@api.route("/me/access-log", summary="Who read my data: the card holder's access log",
           auth=CITIZEN, query=AccessQuery, response=AccessLogOut)
def my_access_log(query: AccessQuery) -> AccessLogOut:
    """Every read of the card holder's personal data, newest first; this view is logged."""
    citizen_id, entries = _read_own_log(query, "citizen viewed own access log")
    more = entries[-1].seq if len(entries) == query.limit else None
    return AccessLogOut(citizen_id=citizen_id, next_before=more,
                        entries=[AccessOut(**{**e.__dict__, "fields": list(e.fields)})
                                 for e in entries])


@api.route("/me/access-log.pdf", summary="The card holder's access log as a PDF",
           auth=CITIZEN, query=AccessQuery, content_type="application/pdf")
def my_access_log_pdf(query: AccessQuery) -> Response:
    citizen_id, entries = _read_own_log(query, "citizen printed own access log")
    pdf = access.access_log_pdf(entries, f"citizen #{citizen_id}",
                                current_app.config["CITY_NAME"])
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": 'attachment; filename="access-log.pdf"'})


class RecordsQuery(StrictModel):
    after: int = Field(0, ge=0, le=MAX_INT, description="records with a larger sequence number")
    limit: int = Field(100, ge=1, le=1000)
    citizen_id: int | None = Field(None, ge=1, le=MAX_INT)
    action: str | None = Field(None, max_length=120)


class RecordOut(OutModel):
    seq: int
    at: datetime
    actor_kind: str
    actor: str | None
    role: str | None
    terminal_id: str | None
    action: str
    subject_type: str | None
    subject_id: str | None
    citizen_id: int | None
    purpose: str | None
    outcome: str
    details: str
    details_digest: str
    prev_hash: str
    hash: str


class RecordsOut(OutModel):
    records: list[RecordOut]
    next_after: int | None


@api.route("/records", summary="Read the audit log (auditors, admins)", auth=AUDITORS,
           query=RecordsQuery, response=RecordsOut)
def list_records(query: RecordsQuery) -> RecordsOut:
    """Records in sequence order after `after`; filtered by citizen or action if asked."""
    table = AuditRecord.__table__
    statement = (select(table).where(table.c.seq > query.after).order_by(table.c.seq)
                 .limit(query.limit))
    if query.citizen_id is not None:
        statement = statement.where(table.c.citizen_id == query.citizen_id)
    if query.action:
        statement = statement.where(table.c.action == query.action)
    rows = [export.record_json(dict(r._mapping)) for r in chained_connection().execute(statement)]
    record(session(), action="audit.log.read", citizen_id=query.citizen_id,
           subject_type="audit_log", purpose="audit",
           details=query.model_dump(exclude_none=True) | {"returned": len(rows)})
    more = rows[-1]["seq"] if len(rows) == query.limit else None
    return RecordsOut(records=[RecordOut(**r) for r in rows], next_after=more)


class FindingOut(OutModel):
    kind: str
    position: int
    count: int
    detail: str


class VerifyOut(OutModel):
    intact: bool
    records: int
    last_seq: int
    head: str
    checkpoints_checked: int
    seconds: float
    findings: list[FindingOut]


@api.route("/verify", "POST", summary="Verify the chain and every checkpoint now",
           auth=AUDITORS, response=VerifyOut)
def verify_now() -> VerifyOut:
    """Recompute every hash and check every checkpoint, as `satukartu audit verify` does."""
    report = verify_app(chained_connection(), current_app.config)
    record(session(), action="audit.verify", subject_type="audit_log",
           details={"intact": report.intact, "records": report.records,
                    "findings": [f.to_dict() for f in report.findings][:20]})
    return VerifyOut(**report.to_dict())


class CheckpointOut(OutModel):
    size: int
    head: str
    at: datetime
    body: str
    signature: str
    source: str
    key_id: str | None = Field(None, description="The id of the key that signed it "
                               "(GET /audit/public-keys).")


class CheckpointsOut(OutModel):
    checkpoints: list[CheckpointOut]


def _checkpoint_out(made: Checkpoint) -> CheckpointOut:
    return CheckpointOut(size=made.size, head=made.head.hex(), at=made.at, body=made.body,
                         signature=base64.b64encode(made.signature).decode("ascii"),
                         source=made.source, key_id=made.key_id)


@api.route("/checkpoints", summary="Signed checkpoints in the database", auth=AUDITORS,
           response=CheckpointsOut)
def list_checkpoints() -> CheckpointsOut:
    marks = list(checkpoints_in_table(session().connection()))
    return CheckpointsOut(checkpoints=[_checkpoint_out(m) for m in marks])


@api.route("/checkpoints", "POST", summary="Sign a checkpoint of the current head now",
           auth=CHECKPOINTERS, response=CheckpointOut, status=201)
def checkpoint_now() -> CheckpointOut:
    """Signed in a transaction of its own, like the periodic task's."""
    db = database()  # on SQLite in the request's: it holds the one write lock (backend.db)
    made = make_checkpoint(db, current_app.config, force=True,
                           within=session() if db.dialect == "sqlite" else None)
    assert made is not None
    record(session(), action="audit.checkpoint", subject_type="audit_log",
           details={"size": made.size, "head": made.head.hex()})
    return _checkpoint_out(made)


@api.route("/public-key", summary="The Ed25519 key that signs checkpoints (PEM)",
           auth=PUBLIC, content_type="application/x-pem-file")
def public_key() -> Response:
    return Response(public_pem(signing_key(current_app.config)),
                    mimetype="application/x-pem-file")


class PublicKeysOut(OutModel):
    algorithm: str = "Ed25519"
    keys: list[PublishedKey]


@api.route("/public-keys", summary="Every key that signed checkpoints, current and retired",
           auth=PUBLIC, response=PublicKeysOut)
def public_keys() -> PublicKeysOut:
    """Oldest first; a checkpoint names the id of its key. A retired key signs nothing
    new: it is published so that the checkpoints it signed still verify."""
    ring = keyring(current_app.config)  # the key is made on first use, as for /public-key
    return PublicKeysOut(keys=published(ring))


class ExportQuery(StrictModel):
    from_: str = Field(..., alias="from", min_length=10, max_length=40,
                       description="a date or ISO time (UTC unless it says otherwise)")
    to: str = Field(..., min_length=10, max_length=40,
                    description="a date (that whole day included) or an ISO time (excluded)")
    format: Literal["jsonl", "pdf"] = "jsonl"


@api.route("/export", summary="Export a time range as JSON Lines or a PDF report",
           auth=AUDITORS, query=ExportQuery, content_type="application/x-ndjson",
           reasons=(Reason.AUDIT_RANGE_INVALID,))
def export_range(query: ExportQuery) -> Response:
    """Ends with the checkpoint that covers the range."""
    try:
        span = export.Range.parse(query.from_, query.to)
    except ValueError as exc:
        raise ApiError(Reason.AUDIT_RANGE_INVALID, str(exc), 400) from exc
    conn = chained_connection()
    if query.format == "pdf":
        body, mimetype = export.export_pdf(conn, span, current_app.config["CITY_NAME"]), \
            "application/pdf"
    else:
        text = io.StringIO()
        export.export_jsonl(conn, span, text)
        body, mimetype = text.getvalue().encode("utf-8"), "application/x-ndjson"
    record(session(), action="audit.export", subject_type="audit_log",
           details={"from": query.from_, "to": query.to, "format": query.format})
    name = f"audit-{span.start:%Y%m%d}-{span.end:%Y%m%d}.{query.format}"
    return Response(body, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
