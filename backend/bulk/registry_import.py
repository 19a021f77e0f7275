"""A registry CSV import as an approved bulk job.

The file is copied into the approval files folder under its SHA-256 when the request is
made (`store_file`); the request binds that hash. Carrying it out hashes the stored copy
again and refuses a mismatch; so does the job, just before it hands the file to the
importer (`backend.registry.importer`, all or nothing in one transaction). The job's
progress is the characters read, from the importer's progress callback, written in
short transactions of their own on PostgreSQL (on SQLite the one writer is the import
itself, so the count shows at its end); a cancel is seen at the next callback and
rolls the whole import back. Resuming starts the file again: nothing of it was written.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from pathlib import Path
from typing import IO, Any

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.approvals import kinds
from backend.approvals.models import ApprovalRequest
from backend.auth.principal import Principal
from backend.bulk import jobs, runner
from backend.bulk.models import BulkJob
from backend.db import Database
from backend.errors import ApiError
from backend.reasons import Reason

KIND = "registry.import"
SHA256 = re.compile(r"^[0-9a-f]{64}$")
PROGRESS_EVERY = 0.5  # seconds between progress writes
JOBS = BulkJob.__table__


class Cancelled(Exception):
    """Raised from the progress callback when the job was cancelled: the import rolls back."""


def files_dir() -> Path:
    return Path(current_app.config["APPROVAL_FILES_DIR"]) / "imports"


def stored_path(sha256: str) -> Path:
    if not SHA256.fullmatch(sha256):
        raise kinds.invalid("sha256: 64 lowercase hex digits")
    return files_dir() / f"{sha256}.csv"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def store_file(source: IO[bytes], name: str) -> dict[str, Any]:
    """Copy a registry file into the approval files folder under its SHA-256; the
    payload of a `registry.import` request for it."""
    folder = files_dir()
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = lines = 0
    with tempfile.NamedTemporaryFile(dir=folder, delete=False, suffix=".part") as out:
        try:
            for block in iter(lambda: source.read(1 << 20), b""):
                digest.update(block)
                size += len(block)
                lines += block.count(b"\n")
                out.write(block)
        except BaseException:
            Path(out.name).unlink(missing_ok=True)
            raise
    sha256 = digest.hexdigest()
    if size == 0:
        Path(out.name).unlink(missing_ok=True)
        raise kinds.invalid("the file is empty")
    os.replace(out.name, stored_path(sha256))
    return {"sha256": sha256, "name": _file_name(name), "bytes": size, "lines": lines}


def store_path(source: Path) -> dict[str, Any]:
    with source.open("rb") as handle:
        return store_file(handle, source.name)


def _file_name(name: str) -> str:
    cleaned = re.sub(r"[^\w.\- ]", "_", Path(name).name)[:120].strip()
    return cleaned or "registry.csv"


def normalise(payload: Any) -> dict[str, Any]:
    """`{"sha256", "name", "bytes", "lines"}` of a file already stored (`store_file`)."""
    if not isinstance(payload, dict) or set(payload) != {"sha256", "name", "bytes", "lines"}:
        raise kinds.invalid("a registry import is {sha256, name, bytes, lines} of a stored "
                            "file (POST /approvals/registry-import stores one)")
    sha256, name = payload["sha256"], payload["name"]
    size, lines = payload["bytes"], payload["lines"]
    if not isinstance(sha256, str) or not isinstance(name, str) or \
            not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
                    for n in (size, lines)):
        raise kinds.invalid("sha256 and name are text, bytes and lines whole numbers")
    path = stored_path(sha256)
    if not path.is_file() or path.stat().st_size != size:
        raise kinds.invalid("no stored registry file with this SHA-256 and size",
                            sha256=sha256)
    return {"sha256": sha256, "name": _file_name(name), "bytes": size, "lines": lines}


def describe(payload: dict[str, Any]) -> str:
    return (f"Import the registry file {payload['name']} ({payload['lines']} lines, "
            f"{payload['bytes']} bytes, SHA-256 {payload['sha256'][:16]}...)")


def verify_file(payload: dict[str, Any]) -> Path:
    """The stored file, if it still hashes to what was approved; else approval_mismatch."""
    path = stored_path(payload["sha256"])
    if not path.is_file() or file_sha256(path) != payload["sha256"]:
        raise ApiError(Reason.APPROVAL_MISMATCH, "the stored registry file is missing or "
                       "no longer the file that was approved", 409,
                       {"sha256": payload["sha256"]})
    return path


def _carry_out(db: Session, request: ApprovalRequest, payload: dict[str, Any],
               principal: Principal, send: bool) -> kinds.CarriedOut:
    verify_file(payload)
    job = jobs.create_job(db, KIND, payload, total=payload["bytes"], unit="bytes",
                          created_by=principal.subject, approval_id=request.id, send=send)
    return kinds.CarriedOut(job_id=job.id, message=f"import job {job.id} queued")


kinds.register(kinds.Kind(name=KIND, title="Import a registry file", normalise=normalise,
                          describe=describe, carry_out=_carry_out))


def request_import(db: Session, source: IO[bytes], name: str, principal: Principal, *,
                   note: str = "") -> ApprovalRequest:
    """Store a registry file and ask a second admin to approve importing it."""
    from backend.approvals import service

    service.require_admin(principal, "ask for an import")
    return service.request_approval(db, KIND, store_file(source, name), principal, note=note)


# --- the job -------------------------------------------------------------------------------


def run(database: Database, job_id: int, principal: Principal) -> None:
    """Import the approved file; record its problems as failures, or finish."""
    from backend.registry.history import Actor
    from backend.registry.importer import ImportFailed, import_csv

    with database.transaction() as tx:
        job = runner.lock_job(tx, job_id)
        assert job is not None
        payload = runner.check_binding(tx, job)
        tx.execute(update(JOBS).where(JOBS.c.id == job_id).values(done=0, cursor=0))
    try:
        path = verify_file(payload)
    except ApiError as refused:
        raise runner.JobRefused(refused.reason, refused.message) from None
    progress = _Progress(database, job_id, payload["bytes"])
    try:
        report = import_csv(database.engine, path,
                            formats=current_app.config["NATIONAL_ID_FORMATS"],
                            actor=Actor("staff", principal.subject), progress=progress)
    except Cancelled:
        _finish(database, job_id, "cancelled", "cancelled; nothing was imported")
        return
    except ImportFailed as failed:
        _record_problems(database, job_id, failed.report)
        return
    _finish(database, job_id, "finished",
            f"imported {report.citizens} citizens, {report.households} households, "
            f"{report.enrolments} school enrolments, {report.health} health assignments"
            + (f"; {report.duplicates} pair(s) that may be one person in the clerks' review "
               "queue" if report.duplicates else ""),
            done=payload["bytes"], failed=0)


class _Progress:
    """The importer's progress callback: the count in the job's row, and the cancel."""

    def __init__(self, database: Database, job_id: int, total: int) -> None:
        self.database, self.job_id, self.total = database, job_id, total
        self.read = 0
        self.last = 0.0
        self.writes = database.dialect == "postgresql"

    def __call__(self, characters: int) -> None:
        self.read = min(self.total, self.read + characters)
        now = time.monotonic()
        if now - self.last < PROGRESS_EVERY and self.read < self.total:
            return
        self.last = now
        with self.database.engine.connect() as conn:
            if self.writes:
                conn.execute(update(JOBS).where(JOBS.c.id == self.job_id,
                                                JOBS.c.status == "running")
                             .values(done=self.read, cursor=self.read,
                                     updated_at=jobs.utcnow()))
            status = conn.execute(select(JOBS.c.status).where(JOBS.c.id == self.job_id)
                                  ).scalar_one()
            conn.commit()
        if status == "cancelling":
            raise Cancelled


def _record_problems(database: Database, job_id: int, report: Any) -> None:
    failures = [runner.Failure(error.line, error.column or "", Reason.IMPORT_INVALID,
                               error.problem) for error in report.errors]
    with database.transaction() as tx:
        if failures:
            tx.execute(runner.FAILURES.insert(), [
                {"job_id": job_id, "row_no": f.row, "row_key": f.key[:64],
                 "reason": f.reason.value, "message": f.message} for f in failures])
    shown = "" if report.error_count == len(failures) else f" (the first {len(failures)} listed)"
    _finish(database, job_id, "failed", f"{report.error_count} problem(s){shown}; nothing "
            "was imported", failed=report.error_count)


def _finish(database: Database, job_id: int, status: str, message: str, **counts: int) -> None:
    with database.transaction() as tx:
        job = runner.lock_job(tx, job_id)
        assert job is not None
        if counts:
            tx.execute(update(JOBS).where(JOBS.c.id == job_id).values(**counts))
        if "done" in counts:
            tx.execute(update(JOBS).where(JOBS.c.id == job_id).values(cursor=counts["done"]))
        runner.set_status(tx, job, status, message)


runner.register(runner.WholeKind(name=KIND, needs_approval=lambda _payload: True, run=run))
