"""A redemption's receipt on a screen and as a PDF: the shop's and the counter's alike.

Each screen first checks the receipt is its own terminal's (`_own_receipt` in each);
what is shown, and how the PDF is issued and sent, is the same for both.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from sqlalchemy.orm import Session
from werkzeug.exceptions import NotFound

from backend.documents import receipts, verification


def receipt_view(facts: Any, entry_id: int, staff_subject: str) -> dict[str, Any]:
    """What the receipt page shows of a redemption (`receipts.entry_facts`)."""
    content = receipts.receipt_content(facts)
    return {"entry_id": entry_id, "time": content["time"],
            "programme_title": content["programme_title"], "amount": content["amount"],
            "balance_after": content["balance_after"], "agent": staff_subject,
            "terminal": content["agent"]["name"] or content["agent"]["terminal_id"]}


def receipt_pdf(db: Session, entry_id: int, filename: str) -> Response:
    """The receipt's signed PDF, issued once (a second call finds the same document);
    the caller commits, then sends the response."""
    document = receipts.issue_for_entry(db, entry_id)
    if document is None:
        raise NotFound()
    return Response(verification.pdf_of(db, document), mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{filename}"'})
