"""Vendored front-end files are the versions their README names, byte for byte."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

VENDOR = Path(__file__).resolve().parents[2] / "admin" / "common" / "static" / "vendor"
ROW = re.compile(r"^\| `([^`]+)` \|[^|]+\| ([^|]+) \| `([0-9a-f]{64})` \|$", re.MULTILINE)


def test_every_vendored_file_matches_its_recorded_checksum():
    rows = ROW.findall((VENDOR / "README.md").read_text())
    assert rows, "the README lists the vendored files"
    for name, _version, digest in rows:
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    listed = {name for name, _, _ in rows}
    assert {p.name for p in VENDOR.iterdir() if p.name != "README.md"} == listed


def test_htmx_stays_on_major_version_2():
    pages = Path(__file__).resolve().parents[2] / "admin" / "common" / "templates"
    assert "htmx-2." in (pages / "common" / "base.html").read_text()
