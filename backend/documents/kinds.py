"""Every kind of document the hub issues, by key, so a stored one can be re-rendered."""

from __future__ import annotations

from backend.documents.issuing import Kind


def all_kinds() -> dict[str, Kind]:
    from backend.documents import civil, receipts, statement

    return {**civil.KINDS, receipts.RECEIPT.key: receipts.RECEIPT,
            statement.STATEMENT.key: statement.STATEMENT}


def get(key: str) -> Kind:
    return all_kinds()[key]
