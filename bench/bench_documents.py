"""What documents cost: signing, rendering each kind of PDF, verification, the report.

    .venv/bin/python bench/bench_documents.py [--households 200000] [--spends 20000]
        [--rounds 30]

Makes a fresh PostgreSQL database, a synthetic city of N one-person households in
20 districts (set-based INSERTs), runs the real food allocation for this month, then
M real redemptions through the ledger's postings, and measures: the digest and
Ed25519 signature of a document; rendering a domicile letter, a family-card extract
and a receipt (median of --rounds); the public verification endpoint in-process
(Flask test client, one request at a time); and the monthly report, figures only
(one grouped query over the month's journal lines) and as a PDF with charts.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text

SYNTH = [
    """INSERT INTO citizens (id, national_number, full_name, name_search, birth_date, sex,
         address, region_code, language)
       SELECT g, '31' || lpad(g::text, 14, '0'), 'Warga ' || g, 'warga ' || g,
              DATE '1980-01-01' + (g % 9000), CASE WHEN g % 2 = 0 THEN 'F' ELSE 'M' END,
              'Jl. Contoh No. ' || g, '3171' || lpad((g % 20 + 1)::text, 2, '0') || '0001',
              'id'
       FROM generate_series(1, :n) AS g""",
    """INSERT INTO households (id, family_card_number, head_citizen_id, region_code,
         welfare_decile)
       SELECT g, '99' || lpad(g::text, 14, '0'), g,
              '3171' || lpad((g % 20 + 1)::text, 2, '0') || '0001', 1 + g % 4
       FROM generate_series(1, :n) AS g""",
    """INSERT INTO household_members (citizen_id, household_id, relationship)
       SELECT g, g, 'head' FROM generate_series(1, :n) AS g""",
]
ANALYZE = ("ANALYZE citizens", "ANALYZE households", "ANALYZE household_members")


def median_ms(fn: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def build_city(app, households: int, spends: int) -> str:
    from backend.db import database
    from backend.ledger.allocation import allocate
    from backend.services import Beneficiary
    from backend.services.catalogue import modules
    from backend.services.context import HubContext

    with database().transaction() as sess:
        for statement in SYNTH:
            sess.execute(text(statement), {"n": households})
    with database().transaction() as sess:
        for statement in ANALYZE:  # fresh tables: give the planner their sizes
            sess.execute(text(statement))
    food = modules()["food"]
    start = time.perf_counter()
    [allocation] = food.allocations
    allocate(database(), food, allocation, allocation.due_period(date.today()))
    print(f"allocation of {households} households: {time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    with database().transaction() as sess:
        ctx = HubContext(sess, food, None, None)
        for household in range(1, spends * 4, 4):  # deciles 1..4 are all eligible
            ctx.debit("groceries", 10_000 + household % 50_000, categories=("rice",),
                      beneficiary=Beneficiary("household", household),
                      details={"items": [{"name": "Beras", "quantity": 1,
                                          "unit_price": 10_000 + household % 50_000}]})
    print(f"{spends} redemptions: {time.perf_counter() - start:.1f} s")
    with database().transaction() as sess:
        sess.execute(text("ANALYZE"))  # what autovacuum would have done by report time
    return date.today().strftime("%Y-%m")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--households", type=int, default=200_000)
    parser.add_argument("--spends", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="Keep the database; print its URL.")
    args = parser.parse_args()

    from backend.app import create_app
    from backend.db import database
    from backend.documents import (
        civil,
        issuing,
        monthly_report,
        receipts,
        reports,
        signing,
    )
    from backend.testing import databases

    name, url = databases.migrated_pg_template()
    instance = tempfile.mkdtemp(prefix="bench-documents-")
    app = create_app(DATABASE_URL=url, INSTANCE_DIR=instance, ORIGIN="https://hub.bench")
    try:
        with app.app_context():
            month = build_city(app, args.households, args.spends)
            key = issuing.city_key()
            content = {"holder": {"full_name": "Warga 1"}, "amount": 124_000, "n": 1}
            per_sign = median_ms(lambda: signing.sign(key, issuing.new_public_id(), "receipt",
                                                      issuing.digest(content)), 2000)
            print(f"digest + Ed25519 signature: {per_sign * 1000:.0f} µs")
            with database().transaction() as sess:
                letter = civil.issue_civil(sess, "domicile_letter", 1, purpose="bench")
                extract = civil.issue_civil(sess, "family_card_extract", 1)
                receipt = receipts.issue_for_entry(sess, _first_spend(sess), render=True)
                for label, doc in (("domicile letter", letter.document),
                                   ("family-card extract", extract.document),
                                   ("receipt (80 mm)", receipt)):
                    kind = civil.KINDS.get(doc.kind) or receipts.RECEIPT
                    page = issuing.page_for(doc)
                    body = issuing.content_of(doc)
                    ms = median_ms(lambda k=kind, b=body, p=page: k.render(b, p), args.rounds)
                    size = len(kind.render(body, page))
                    print(f"render {label}: {ms:.1f} ms, {size / 1024:.0f} KiB")
                public_id = letter.document.public_id
            client = app.test_client()
            path = f"/api/v1/documents/{public_id}/verify"
            assert client.get(path).status_code == 200
            ms = median_ms(lambda: client.get(path), 300)
            print(f"GET verify (in-process, PostgreSQL): {ms:.2f} ms")
            with database().transaction() as sess:
                ms = median_ms(lambda: reports.monthly(sess, month, "Asia/Jakarta"), 5)
                report = reports.monthly(sess, month, "Asia/Jakarta")
                print(f"monthly figures ({report.overall.beneficiaries} beneficiaries, "
                      f"{report.overall.transactions} redemptions): {ms:.0f} ms")
                ms = median_ms(lambda: monthly_report.build(sess, month), 3)
                print(f"monthly report PDF: {ms:.0f} ms")
    finally:
        if args.keep:
            print(f"kept: {url}")
        else:
            databases.drop_pg_database(name)


def _first_spend(sess) -> int:
    return int(sess.execute(text("SELECT min(id) FROM journal_entries WHERE kind = 'spend'"))
               .scalar_one())


if __name__ == "__main__":
    main()
