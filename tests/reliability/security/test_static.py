"""Static checks in CI: ruff clean, and no medium or high bandit finding left unexplained.

Bandit's findings are matched by file, test id and the text of the flagged code (not its
line number, which moves), so an explanation keeps holding while the code around it changes,
and any new finding, or an old one on a changed line, fails until someone explains it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
SCANNED = ("backend", "services", "admin", "card_reader")

# (file, bandit test id, text on the flagged line) -> why it is not a vulnerability.
EXPLAINED = {
    ("backend/demo.py", "B310", "urllib.request.urlopen(url, timeout=2)"):
        "the demo polls the hub it has just started on loopback; the URL is built from "
        "its own --bind option, never from request data",
    ("backend/demo.py", "B310", 'urllib.request.urlopen(url + "/state", timeout=1)'):
        "the demo polls the reader bridges it has just started on loopback; the URL is "
        "one of its two constant bridge addresses",
    ("backend/registry/importer.py", "B608", 'f"INSERT INTO {STAGING} ({\', \'.join(STAGED)})'):
        "the staging table's constant name and column names; the row values are bound "
        "parameters of executemany (row data never enters SQL text)",
    ("backend/testing/services.py", "B608", 'text(f"SELECT count(*) FROM {table}")'):
        "test fixture; table is one of the constant LEDGER_TABLES names",
    ("backend/testing/services.py", "B608", "SELECT setval(pg_get_serial_sequence('{table}'"):
        "test fixture; table is one of two constant names in the loop",
    ("card_reader/mgmkey.py", "B305", "Cipher(algo, modes.ECB())"):
        "PIV management-key authentication (SP 800-73-4 part 2, GENERAL AUTHENTICATE "
        "witness and challenge) encrypts exactly one block; ECB is what the card does",
    ("card_reader/stack.py", "B104", 's2.bind(("0.0.0.0", port + 1))'):
        "probes that a port is free on every interface, as vpcd will bind it; the "
        "socket is closed at once and never listens",
    ("card_reader/stack.py", "B104", 's1.bind(("0.0.0.0", port))'):
        "the same probe for the first port of the pair",
}


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)


def _explanation(finding: dict) -> tuple | None:
    text = finding["code"]
    for key in EXPLAINED:
        path, test_id, snippet = key
        if finding["filename"] == path and finding["test_id"] == test_id and snippet in text:
            return key
    return None


@pytest.fixture(scope="module")
def bandit_findings() -> list[dict]:
    done = _run(str(BIN / "bandit"), "-r", *SCANNED, "-c", "bandit.yaml", "-f", "json",
                "-q", "--severity-level", "medium")
    report = json.loads(done.stdout)
    assert not report["errors"], report["errors"]
    return report["results"]


def test_ruff_finds_nothing():
    done = _run(str(BIN / "ruff"), "check", "--no-cache", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_medium_or_high_bandit_finding_is_explained(bandit_findings):
    unexplained = [f"{f['filename']}:{f['line_number']} {f['test_id']} {f['issue_text']}"
                   for f in bandit_findings if _explanation(f) is None]
    assert not unexplained, "\n".join(unexplained)


def test_every_explanation_still_names_a_finding(bandit_findings):
    used = {_explanation(f) for f in bandit_findings}
    assert set(EXPLAINED) <= used, sorted(set(EXPLAINED) - used)
