"""Exports of a time range: JSON Lines for machines, a PDF report for people.

Both end with the checkpoint that covers the range (the first whose size reaches
the range's last record), so a reader can tie what they hold to a signed head, and
name the id of the key that signed it (published at /api/v1/audit/public-keys).
The JSON Lines carry each record's exact stored fields and hashes: with chain.py's
rules anyone can recompute every hash from them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TextIO

from reportlab.lib.units import mm
from sqlalchemy import Connection, select

from backend.audit.checkpoints import Checkpoint, covering
from backend.audit.models import AuditRecord
from backend.audit.pdf import table_report

PDF_MAX_ROWS = 5000  # a longer range belongs in JSON Lines; the PDF says so
_T = AuditRecord.__table__


@dataclass(frozen=True)
class Range:
    start: datetime  # inclusive
    end: datetime  # exclusive

    @classmethod
    def parse(cls, start: str, end: str) -> Range:
        """Dates or ISO times; a bare `end` date includes that whole day (UTC)."""
        first, last = _moment(start), _moment(end)
        if len(end.strip()) == 10:
            last += timedelta(days=1)
        if last <= first:
            raise ValueError("the range ends before it starts")
        return cls(first, last)


def _moment(value: str) -> datetime:
    value = value.strip()
    if len(value) == 10:
        return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def records_in(conn: Connection, span: Range) -> Iterator[dict[str, Any]]:
    query = (select(_T).where(_T.c.at >= span.start, _T.c.at < span.end)
             .order_by(_T.c.seq).execution_options(yield_per=2000))
    for row in conn.execute(query):
        yield dict(row._mapping)


def record_json(row: Mapping[str, Any]) -> dict[str, Any]:
    out = {"kind": "record"}
    for key, value in row.items():
        if isinstance(value, bytes | memoryview):
            value = bytes(value).hex()
        elif isinstance(value, datetime):
            value = _iso(value)
        out[key] = value
    return out


def checkpoint_json(checkpoint: Checkpoint | None, last_seq: int) -> dict[str, Any]:
    if checkpoint is None:
        return {"kind": "checkpoint", "covered": False, "last_seq": last_seq}
    return {"kind": "checkpoint", "covered": True, "size": checkpoint.size,
            "head": checkpoint.head.hex(), "time": _iso(checkpoint.at),
            "body": checkpoint.body, "key_id": checkpoint.key_id,
            "signature": base64.b64encode(checkpoint.signature).decode("ascii")}


def export_jsonl(conn: Connection, span: Range, out: TextIO) -> int:
    """Write the range's records, a summary and the covering checkpoint; returns the count."""
    count, first_seq, last_seq = 0, None, 0
    for row in records_in(conn, span):
        out.write(json.dumps(record_json(row), ensure_ascii=False) + "\n")
        count += 1
        first_seq = first_seq or row["seq"]
        last_seq = row["seq"]
    out.write(json.dumps({"kind": "summary", "from": _iso(span.start), "to": _iso(span.end),
                          "records": count, "first_seq": first_seq,
                          "last_seq": last_seq or None}) + "\n")
    found = covering(conn, last_seq) if count else None
    out.write(json.dumps(checkpoint_json(found, last_seq)) + "\n")
    return count


def export_pdf(conn: Connection, span: Range, city: str) -> bytes:
    rows: list[list[object]] = []
    total, last_seq = 0, 0
    for row in records_in(conn, span):
        total += 1
        last_seq = row["seq"]
        if len(rows) < PDF_MAX_ROWS:
            rows.append(_pdf_row(row))
    found = covering(conn, last_seq) if total else None
    facts = [("City", city), ("From", _iso(span.start)), ("Until (exclusive)", _iso(span.end)),
             ("Records", str(total)), *_checkpoint_facts(found, total)]
    notes = []
    if total > PDF_MAX_ROWS:
        notes.append(f"Showing the first {PDF_MAX_ROWS} of {total} records; the JSON Lines "
                     "export of the same range holds all of them.")
    header = ("Seq", "Time (UTC)", "Actor", "Role", "Terminal", "Action", "Subject",
              "Citizen", "Purpose", "Outcome", "Hash")
    widths = tuple(w * mm for w in (12, 36, 30, 16, 24, 34, 26, 14, 42, 20, 19))
    return table_report("Audit log export", facts, header, rows, notes, widths)


def _checkpoint_facts(found: Checkpoint | None, total: int) -> list[tuple[str, str]]:
    if not total:
        return [("Covering checkpoint", "none needed: the range is empty")]
    if found is None:
        return [("Covering checkpoint", "none yet: the next checkpoint (within a minute) "
                 "will cover these records")]
    return [("Covering checkpoint", f"size {found.size}, signed {_iso(found.at)}"),
            ("Checkpoint head", found.head.hex()),
            ("Checkpoint key", found.key_id or "not recorded"),
            ("Checkpoint signature", base64.b64encode(found.signature).decode("ascii"))]


def _pdf_row(row: Mapping[str, Any]) -> list[object]:
    actor = f"{row['actor_kind']}: {row['actor']}" if row["actor"] else row["actor_kind"]
    subject = "/".join(str(v) for v in (row["subject_type"], row["subject_id"]) if v)
    return [row["seq"], _iso(row["at"]), actor, row["role"], row["terminal_id"], row["action"],
            subject, row["citizen_id"], row["purpose"], row["outcome"],
            bytes(row["hash"]).hex()[:16]]


def _iso(moment: datetime) -> str:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
