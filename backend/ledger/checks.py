"""The ledger's invariants, recomputed from the rows: what `satukartu ledger check` runs.

The database already refuses most violations; this finds any that slipped past (a
trigger dropped by hand, a restore from a broken backup) and names them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

CHECKS = {
    "unbalanced_entries": (
        "SELECT e.id AS entry_id, coalesce(sum(l.amount), 0) AS total, count(l.entry_id) "
        "AS lines FROM journal_entries e LEFT JOIN journal_lines l ON l.entry_id = e.id "
        "GROUP BY e.id HAVING coalesce(sum(l.amount), 0) <> 0 OR count(l.entry_id) < 2 "
        "ORDER BY e.id LIMIT 100"),
    "lines_without_entry": (
        "SELECT l.entry_id, l.line_no FROM journal_lines l LEFT JOIN journal_entries e "
        "ON e.id = l.entry_id WHERE e.id IS NULL ORDER BY l.entry_id LIMIT 100"),
    "negative_balances": (
        "SELECT id AS account_id, programme, purse, owner_type, owner_ref, balance "
        "FROM ledger_accounts WHERE balance < 0 AND NOT allow_negative ORDER BY id LIMIT 100"),
    "balances_off_journal": (
        "SELECT a.id AS account_id, a.balance, coalesce(s.total, 0) AS journal "
        "FROM ledger_accounts a LEFT JOIN (SELECT account_id, sum(amount) AS total "
        "FROM journal_lines GROUP BY account_id) s ON s.account_id = a.id "
        "WHERE a.balance <> coalesce(s.total, 0) ORDER BY a.id LIMIT 100"),
    "grants_without_entry": (
        "SELECT g.id AS grant_id, g.entry_id FROM ledger_grants g LEFT JOIN journal_entries e "
        "ON e.id = g.entry_id WHERE e.id IS NULL ORDER BY g.id LIMIT 100"),
}


def findings(sess: Session) -> dict[str, list[dict[str, Any]]]:
    """Each check's offending rows (at most 100 each); all empty means intact."""
    return {name: [dict(row._mapping) for row in sess.execute(text(sql))]
            for name, sql in CHECKS.items()}


def totals(sess: Session) -> dict[str, int]:
    """Counts and sums for the report line of `ledger check`."""
    row = sess.execute(text(
        "SELECT (SELECT count(*) FROM journal_entries) AS entries, "
        "(SELECT count(*) FROM journal_lines) AS lines, "
        "(SELECT coalesce(sum(amount), 0) FROM journal_lines) AS total, "
        "(SELECT count(*) FROM ledger_accounts) AS accounts, "
        "(SELECT count(*) FROM ledger_grants) AS grants")).one()
    return {k: int(v) for k, v in row._mapping.items()}
