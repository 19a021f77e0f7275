"""Exports of a time range: JSON Lines a machine can re-verify, a PDF a person can read."""

import base64
import io
import json
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from backend.audit.chain import canonical_text, leaf_hash, next_head
from backend.audit.checkpoints import load_public, public_pem, signing_key
from backend.audit.export import Range, export_jsonl, export_pdf


def _today():
    return datetime.now(UTC).date().isoformat()


def _jsonl(audit_store, start, end):
    out = io.StringIO()
    with audit_store.engine.connect() as conn:
        export_jsonl(conn, Range.parse(start, end), out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_jsonl_holds_every_record_of_the_range_then_the_covering_checkpoint(audit_store):
    audit_store.fill(12, per_transaction=5)
    audit_store.checkpoint()
    lines = _jsonl(audit_store, _today(), _today())
    records = [line for line in lines if line["kind"] == "record"]
    summary, checkpoint = lines[-2], lines[-1]
    assert [r["seq"] for r in records] == list(range(1, 13))
    assert (summary["kind"], summary["records"], summary["last_seq"]) == ("summary", 12, 12)
    assert checkpoint["covered"] and checkpoint["size"] >= 12


def test_jsonl_records_recompute_to_the_signed_checkpoint_head(audit_store):
    audit_store.fill(6)
    audit_store.checkpoint()
    lines = _jsonl(audit_store, _today(), _today())
    head = bytes(32)
    for line in lines:
        if line["kind"] != "record":
            continue
        fields = dict(line, at=datetime.fromisoformat(line["at"].replace("Z", "+00:00")))
        head = next_head(head, leaf_hash(canonical_text(fields)))
        assert head.hex() == line["hash"]
    checkpoint = lines[-1]
    assert checkpoint["head"] == head.hex()
    public = load_public(public_pem(signing_key(audit_store.app.config)))
    public.verify(base64.b64decode(checkpoint["signature"]), checkpoint["body"].encode())


def test_range_outside_the_records_exports_none(audit_store):
    audit_store.fill(3)
    lines = _jsonl(audit_store, "2001-01-01", "2001-01-31")
    assert [line["kind"] for line in lines] == ["summary", "checkpoint"]
    assert lines[0]["records"] == 0


def test_records_not_yet_checkpointed_say_so(audit_store):
    audit_store.fill(2)
    assert _jsonl(audit_store, _today(), _today())[-1]["covered"] is False


def test_pdf_report_shows_the_records_and_the_checkpoint(audit_store, tmp_path):
    audit_store.fill(4, purpose="welfare eligibility review")
    made = audit_store.checkpoint()
    with audit_store.engine.connect() as conn:
        pdf = export_pdf(conn, Range.parse(_today(), _today()), "Kota Contoh")
    path = tmp_path / "audit.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "Audit log export" in text and "Kota Contoh" in text
    assert text.count("welfare eligibility review") == 4
    assert f"size {made.size}" in text
    assert made.head.hex() in text.replace("\n", "")


@pytest.mark.parametrize(("start", "end"), [("2026-02-01", "2026-01-01"),
                                            ("2026-01-01T10:00", "2026-01-01T10:00"),
                                            ("yesterday", "2026-01-01")])
def test_bad_ranges_are_refused(start, end):
    with pytest.raises(ValueError):
        Range.parse(start, end)


def test_a_date_as_the_end_includes_that_whole_day():
    span = Range.parse("2026-03-01", "2026-03-01")
    assert span.end - span.start == timedelta(days=1)
