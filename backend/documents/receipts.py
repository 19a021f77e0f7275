"""Receipts: one signed receipt per redemption or withdrawal, from its journal entry.

The journal entry is the transaction; the receipt is its printable, verifiable face.
It is recorded on first need (the service call may issue it at once; a fetch issues
it otherwise), at most once per entry (`source` is unique), with the entry's time as
its issue time, so when it was recorded does not change what it says. The PDF is an
80 mm roll, what kiosk and shop printers take, re-rendered on demand.

Items are read from the entry's `details["items"]`: a list of
`{"name": str, "quantity": int, "unit_price": int, "category": str}`, or with an
`amount` instead of `unit_price` (any may be absent).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Table, TableStyle
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.documents import formats, render
from backend.documents.issuing import Issued, Kind, Page, issue
from backend.documents.models import IssuedDocument
from backend.ledger.models import Account, JournalEntry, JournalLine
from backend.registry.models import Citizen

log = logging.getLogger(__name__)

RECEIPT_ENTRY_KINDS = ("spend", "withdrawal", "fare")
ENTRY_TITLES = {"spend": "Pembelian / Purchase", "withdrawal": "Penarikan tunai / Withdrawal",
                "fare": "Tarif angkutan / Transit fare"}
ROLL_WIDTH = 80 * mm
ROLL_MARGIN = 4 * mm


def source_of(entry_id: int) -> str:
    return f"journal:{entry_id}"


@dataclass(frozen=True)
class EntryFacts:
    entry: JournalEntry
    balance_after: int | None
    holder_name: str
    agent_name: str | None


def entry_facts(session: Session, entry_id: int) -> EntryFacts | None:
    """The entry if it is one that has a receipt, with what the receipt prints."""
    entry = session.get(JournalEntry, entry_id)
    if entry is None or entry.kind not in RECEIPT_ENTRY_KINDS:
        return None
    balance = session.scalars(
        select(JournalLine.balance_after).join(Account, Account.id == JournalLine.account_id)
        .where(JournalLine.entry_id == entry_id, JournalLine.amount < 0,
               Account.owner_type.in_(("citizen", "household")))).first()
    holder = session.get(Citizen, entry.citizen_id) if entry.citizen_id else None
    return EntryFacts(entry, balance, holder.full_name if holder else "",
                      _terminal_name(session, entry.terminal_id))


def _terminal_name(session: Session, terminal_id: str | None) -> str | None:
    if terminal_id is None:
        return None
    from backend.identity.models import Terminal

    return session.scalars(select(Terminal.name).where(Terminal.id == terminal_id)).first()


def _items(details: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    items = []
    for item in (details or {}).get("items") or []:
        if isinstance(item, Mapping):
            quantity = int(item.get("quantity") or 1)
            amount = item.get("amount")
            if amount is None:
                amount = quantity * int(item.get("unit_price") or 0)
            items.append({"name": str(item.get("name") or item.get("category") or "-"),
                          "quantity": quantity, "amount": int(amount)})
    return items


def receipt_content(facts: EntryFacts) -> dict[str, Any]:
    entry = facts.entry
    return {
        "holder": {"full_name": facts.holder_name},
        "entry_id": entry.id,
        "entry_kind": entry.kind,
        "programme": entry.programme,
        "programme_title": programme_title(entry.programme),
        "purse": entry.purse,
        "agent": {"terminal_id": entry.terminal_id, "name": facts.agent_name},
        "items": _items(entry.details),
        "amount": int(entry.amount),
        "balance_after": facts.balance_after,
        "time": _utc(entry).isoformat(),
    }


def programme_title(key: str, language: str = "id") -> str:
    """The programme's name as the city's citizens know it (its key if not loaded)."""
    from backend.services.catalogue import modules

    module = modules().get(key)
    return module.title_in(language) if module is not None else key


def _utc(entry: JournalEntry) -> Any:
    created = entry.created_at
    if created.tzinfo is None:  # SQLite hands back naive UTC
        created = created.replace(tzinfo=UTC)
    return created.astimezone(UTC).replace(microsecond=0)


def issue_for_entry(session: Session, entry_id: int, *, render: bool = False
                    ) -> IssuedDocument | None:
    """The entry's receipt, recorded now if it was not yet; None if it has none.

    Safe to call from the redemption's own transaction (no rendering by default) and
    from concurrent fetches: a second recording loses on the unique `source` inside a
    savepoint and the first one is returned.
    """
    existing = find_for_entry(session, entry_id)
    if existing is not None:
        return existing
    facts = entry_facts(session, entry_id)
    if facts is None:
        return None
    try:
        with session.begin_nested():
            issued = _issue(session, facts, render)
    except IntegrityError:
        return find_for_entry(session, entry_id)
    return issued.document


def _issue(session: Session, facts: EntryFacts, render_now: bool) -> Issued:
    entry = facts.entry
    return issue(session, RECEIPT, receipt_content(facts), citizen_id=entry.citizen_id,
                 terminal_id=entry.terminal_id, source=source_of(entry.id),
                 number=str(entry.id), issued_at=_utc(entry), render=render_now)


def find_for_entry(session: Session, entry_id: int) -> IssuedDocument | None:
    return session.scalars(select(IssuedDocument).where(
        IssuedDocument.source == source_of(entry_id))).first()


def render_receipt(c: Mapping[str, Any], page: Page) -> bytes:
    """An 80 mm roll receipt, as tall as its content."""
    k = render.kit(page.city, page.font_dirs, scale=0.8)
    width = ROLL_WIDTH - 2 * ROLL_MARGIN - 2 * render.FRAME_PADDING
    story = _receipt_story(k, c, page, width)
    height = render.measured_height(_receipt_story(k, c, page, width), width)
    return render.build(story, k=k, title=f"Struk {c['number']}", footer=None,
                        pagesize=(ROLL_WIDTH, height + 2 * (ROLL_MARGIN + render.FRAME_PADDING)
                                  + 4 * mm),
                        margin=ROLL_MARGIN, bottom=ROLL_MARGIN)


def _receipt_story(k: render.Kit, c: Mapping[str, Any], page: Page, width: float
                   ) -> list[Flowable]:
    agent = c["agent"]
    agent_text = f"{agent['name']} ({agent['terminal_id']})" if agent.get("name") else (
        agent.get("terminal_id") or "-")
    lines = [
        ("No. struk", c["number"]),
        ("Waktu", formats.moment(c["time"], page.zone)),
        ("Agen", agent_text),
        ("Program", c.get("programme_title") or c["programme"]),
        ("Pemegang", formats.mask_name(c["holder"]["full_name"]) or "-"),
    ]
    story: list[Flowable] = [
        k.p(f"PEMERINTAH {page.city.upper()}", k.centre, bold=True),
        k.p("SatuKartu · BUKTI TRANSAKSI", k.centre),
        k.p(ENTRY_TITLES.get(c["entry_kind"], c["entry_kind"]), k.centre), render.gap(2),
        render.fields(k, lines, label_width=18 * mm), render.gap(2),
    ]
    if c["items"]:
        story.append(render.grid(
            k, ["Barang", "Jml", "Jumlah"],
            [[i["name"], i["quantity"], formats.money(i["amount"])] for i in c["items"]],
            widths=[width - 34 * mm, 9 * mm, 25 * mm], numeric=(1, 2), style=k.small))
    totals = [["TOTAL", formats.money(c["amount"])]]
    if c.get("balance_after") is not None:
        totals.append(["Saldo setelah transaksi", formats.money(c["balance_after"])])
    story += [render.gap(2), _totals(k, totals, width), render.gap(3),
              _qr_block(k, page, width)]
    return story


def _totals(k: render.Kit, rows: list[list[str]], width: float) -> Table:
    table = Table([[k.p(a, bold=True), k.p(b, k.right, bold=True)] for a, b in rows],
                  colWidths=[width - 30 * mm, 30 * mm])
    table.setStyle(TableStyle([("LINEABOVE", (0, 0), (-1, 0), 0.8, render.CITY_BLUE)]))
    return table


def _qr_block(k: render.Kit, page: Page, width: float) -> Table:
    cells: list[list[Any]] = [[render.qr(page.verify_url, 30 * mm)],
             [k.p("Periksa keaslian struk / verify:", k.small)],
             [k.p(page.verify_url, k.small)], [k.p(page.fingerprint, k.small)]]
    table = Table(cells, colWidths=[width])
    table.setStyle(TableStyle([("ALIGN", (0, 0), (-1, -1), "CENTER")]))
    return table


RECEIPT = Kind("receipt", "RC", "Bukti transaksi", render_receipt, keep_file=False)
