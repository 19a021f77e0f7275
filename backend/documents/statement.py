"""The citizen's statement: their programmes, balances and latest movements, signed.

A kiosk prints it after the PIN. It is issued like every city document (numbered,
signed, verifiable by its QR code), from what the ledger says at the moment of issue;
the PDF is re-rendered from the signed content on demand, never stored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reportlab.lib.units import mm
from reportlab.platypus import Flowable
from sqlalchemy.orm import Session

from backend.documents import formats, render
from backend.documents.issuing import Issued, Kind, Page, issue

ENTRY_WORDS = {"grant": "Penyaluran / Grant", "credit": "Kredit / Credit",
               "spend": "Pembelian / Purchase", "withdrawal": "Penarikan / Withdrawal",
               "fare": "Tarif / Fare", "expiry": "Hangus / Expired",
               "offline_spend": "Pembelian luring / Offline purchase"}


def statement_content(holder_name: str, programmes: Sequence[Mapping[str, Any]]
                      ) -> dict[str, Any]:
    """What the statement says, from a card session's view of its programmes."""
    listed = []
    for programme in programmes:
        if not programme["balances"] and not programme.get("recent"):
            continue
        listed.append({
            "title": programme["title"], "balances": dict(programme["balances"]),
            "lines": [{"entry_id": line["entry_id"], "kind": line["kind"],
                       "amount": line["amount"], "balance_after": line["balance_after"],
                       "at": line["at"]} for line in programme.get("recent") or []],
        })
    return {"holder": {"full_name": holder_name}, "programmes": listed}


def issue_statement(session: Session, content: Mapping[str, Any], *, citizen_id: int,
                    terminal_id: str | None) -> Issued:
    return issue(session, STATEMENT, content, citizen_id=citizen_id, terminal_id=terminal_id,
                 render=False)


def render_statement(c: Mapping[str, Any], page: Page) -> bytes:
    k = render.kit(page.city, page.font_dirs)
    story: list[Flowable] = [
        render.letterhead(k, "SATUKARTU"), render.gap(6),
        k.p("REKENING PROGRAM BANTUAN", k.title, bold=True),
        k.p("Statement of programmes", k.centre), k.p(f"Nomor: {c['number']}", k.centre),
        render.gap(4),
        render.fields(k, [("Pemegang kartu", c["holder"]["full_name"]),
                          ("Waktu", formats.moment(c["issued_at"], page.zone))]),
        render.gap(4),
    ]
    for programme in c["programmes"]:
        story += _programme(k, programme, page)
    if not c["programmes"]:
        story.append(k.p("Tidak ada saldo atau transaksi. / No balances or movements."))
    return render.build(story, k=k, title=f"Rekening {c['number']}",
                        footer=render.Footer(page.verify_url, "Periksa keaslian / verify:",
                                             page.fingerprint))


def _programme(k: render.Kit, programme: Mapping[str, Any], page: Page) -> list[Flowable]:
    out: list[Flowable] = [k.p(programme["title"], k.heading, bold=True)]
    for purse, balance in programme["balances"].items():
        out.append(k.p(f"Saldo / balance ({purse}): {formats.money(balance)}", bold=True))
    if programme["lines"]:
        out.append(render.grid(
            k, ["Waktu / time", "Jenis / kind", "Jumlah", "Saldo"],
            [[formats.moment(line["at"], page.zone) if line["at"] else "-",
              ENTRY_WORDS.get(line["kind"], line["kind"]), formats.money(line["amount"]),
              formats.money(line["balance_after"])] for line in programme["lines"]],
            widths=[45 * mm, 55 * mm, 35 * mm, 35 * mm], numeric=(2, 3)))
    out.append(render.gap(4))
    return out


STATEMENT = Kind("statement", "ST", "Rekening program / Statement", render_statement,
                 keep_file=False)
