"""Two terminals asking for the same new receipt at once still get one receipt."""

import threading

from sqlalchemy import func, select

from backend.db import database
from backend.documents import receipts
from backend.documents.models import IssuedDocument
from backend.services.catalogue import modules
from backend.services.context import HubContext
from backend.testing.registry import make_citizen, make_household
from backend.testing.services import fund_account


def _redemption(app):
    head = make_citizen()
    fund_account("food", "groceries", make_household(head=head, welfare_decile=1), 90_000)
    with database().transaction() as sess:
        ctx = HubContext(sess, modules()["food"], None, head.id)
        return ctx.debit("groceries", 40_000, categories=("rice",),
                         details={"items": [{"name": "Beras", "quantity": 1,
                                             "unit_price": 40_000}]}).entry_id


def test_concurrent_first_fetches_record_one_receipt(committing_app):
    entry_id = _redemption(committing_app)
    barrier = threading.Barrier(4)
    found: list[str] = []

    def fetch() -> None:
        with committing_app.app_context(), database().transaction() as sess:
            barrier.wait()
            found.append(receipts.issue_for_entry(sess, entry_id, render=True).public_id)

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(found) == 4 and len(set(found)) == 1
    with database().transaction() as sess:
        assert sess.scalar(select(func.count()).select_from(IssuedDocument).where(
            IssuedDocument.source == receipts.source_of(entry_id))) == 1
