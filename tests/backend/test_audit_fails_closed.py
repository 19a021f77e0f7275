"""An audit that can silently stop recording is worse than none: when the audit log or
a domain it reads cannot be imported, the hub fails loudly instead of carrying on."""

from __future__ import annotations

import sys

import pytest

from backend.audit import access
from backend.documents import receipts
from backend.identity import events


def test_an_identity_event_without_the_audit_log_fails(monkeypatch):
    monkeypatch.setitem(sys.modules, "backend.audit", None)
    with pytest.raises(ImportError):
        events.record(None, action="staff.login", subject_type="staff",  # type: ignore[arg-type]
                      subject_id="someone")


def test_the_access_log_without_the_terminals_fails(monkeypatch):
    monkeypatch.setitem(sys.modules, "backend.identity.models", None)
    with pytest.raises(ImportError):
        access._office_names(None, {"terminal-1"})  # type: ignore[arg-type]


def test_a_receipt_without_the_terminals_fails(monkeypatch):
    monkeypatch.setitem(sys.modules, "backend.identity.models", None)
    with pytest.raises(ImportError):
        receipts._terminal_name(None, "terminal-1")  # type: ignore[arg-type]
