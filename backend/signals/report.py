"""The signals as an inspector takes them away: CSV for a spreadsheet, PDF to print."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date, datetime

from reportlab.lib.units import mm

from backend.audit.pdf import table_report
from backend.signals.detect import Signal

COLUMNS = ("day", "kind", "subject_type", "subject", "summary", "measure", "threshold",
           "evidence", "times")


def as_row(signal: Signal) -> dict[str, str]:
    return {"day": signal.day.isoformat(), "kind": signal.kind,
            "subject_type": signal.subject_type, "subject": signal.subject,
            "summary": signal.summary, "measure": f"{signal.measure:g}",
            "threshold": f"{signal.threshold:g}",
            "evidence": " ".join(str(e) for e in signal.evidence),
            "times": " ".join(signal.times)}


def to_csv(signals: Sequence[Signal]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(as_row(s) for s in signals)
    return out.getvalue()


def to_pdf(signals: Sequence[Signal], since: date, until: date, city: str,
           made_at: datetime) -> bytes:
    kinds: dict[str, int] = {}
    for s in signals:
        kinds[s.kind] = kinds.get(s.kind, 0) + 1
    facts = [("City", city), ("Days", f"{since} to {until}"),
             ("Made", made_at.isoformat(timespec="seconds")),
             ("Signals", str(len(signals)) + (" (" + ", ".join(
                 f"{k.replace('_', ' ')} {n}" for k, n in sorted(kinds.items())) + ")"
                 if kinds else ""))]
    rows = [(s.day.isoformat(), s.kind.replace("_", " "), s.subject, s.summary,
             " ".join(str(e) for e in s.evidence[:40])
             + (f" (+{len(s.evidence) - 40})" if len(s.evidence) > 40 else ""))
            for s in signals]
    return table_report(
        "Irregularity signals at agents", facts,
        ("Day", "Signal", "Agent or card", "What was seen", "Evidence (journal entries; "
         "audit records for refusals)"), rows,
        notes=("A signal is a reason to look, not a finding: each names the entries "
               "that tripped it, to be read with the agent's settlements.",),
        widths=(20 * mm, 28 * mm, 30 * mm, 90 * mm, None))
