"""What every fault test checks afterwards, through the same code and commands an
operator runs: the ledger's invariants (`ledger check`) and the audit chain
(`satukartu audit verify`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from backend.db import make_engine
from backend.ledger import checks

SATUKARTU = str(Path(sys.executable).parent / "satukartu")


def ledger_problems(database_url: str) -> dict[str, Any]:
    """The non-empty findings of `ledger check`, and the journal's total if not zero."""
    engine = make_engine(database_url)
    try:
        with Session(engine) as sess:
            found = {name: rows for name, rows in checks.findings(sess).items() if rows}
            total = checks.totals(sess)["total"]
    finally:
        engine.dispose()
    if total:
        found["journal_total"] = total
    return found


def audit_verify(database_url: str, instance_dir: Path) -> dict[str, Any]:
    """`satukartu audit verify --json` on the database; the report (exit code inside)."""
    env = {**os.environ, "SATUKARTU_DATABASE_URL": database_url,
           "SATUKARTU_INSTANCE_DIR": str(instance_dir), "SATUKARTU_LOG_LEVEL": "WARNING"}
    done = subprocess.run([SATUKARTU, "audit", "verify", "--json"], env=env,
                          capture_output=True, text=True, timeout=120)
    try:
        report = json.loads(done.stdout)
    except ValueError:
        report = {"stdout": done.stdout[-2000:], "stderr": done.stderr[-2000:]}
    report["exit_code"] = done.returncode
    return report
