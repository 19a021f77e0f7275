"""The card's printed face: a CR80 PDF page for a card printer.

CR80 (ISO/IEC 7810 ID-1) is 85.60 × 53.98 mm; card printers take a PDF of exactly
that page. The face carries what a person at a counter reads off the card: the city,
the holder's name and national number, a box where the printer's photo goes, the
card's serial and expiry, and a QR code of the serial, so a hand scanner finds the
card in the console without typing. Nothing on it is a credential: the card proves
who holds it with its keys (DESIGN.md, "The card"), never with what is printed.

Fonts, the Thai switch inside a line and the QR code are the city documents' own
(`backend.documents.render`), so a Thai or Vietnamese name prints as it does on a
letter. Output is deterministic (ReportLab's invariant mode).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph
from sqlalchemy.orm import Session

from backend.auth.principal import Principal
from backend.cards.models import LIVE_STATUSES
from backend.documents.render import CITY_BLUE, RULE_GREY, Fonts, fonts, markup, qr, shaped
from backend.errors import ApiError
from backend.reasons import Reason

CR80 = (85.60 * mm, 53.98 * mm)
MARGIN = 3 * mm
BAND = 9 * mm  # the city's band along the top edge
PHOTO = (19 * mm, 24 * mm)  # a 3:4 passport photo box, left under the band
QR_SIZE = 19 * mm
NAME_SIZES = (11, 10, 9, 8, 7)  # points, tried in turn until the name fits two lines


@dataclass(frozen=True)
class Face:
    """What the face shows; the caller has read it from the registry (and audited it)."""

    serial: str
    full_name: str
    national_number: str
    expires_on: dt.date
    city: str


PURPOSE = "print the card face"
SHOWN = ("full_name", "national_number")


def face_pdf(sess: Session, serial: str, settings: Mapping[str, Any],
             principal: Principal | None = None) -> tuple[str, bytes]:
    """The face of card `serial` as (its serial, PDF bytes); the API and the CLI both
    print through this. Reading the holder's name and number is an audited read
    (purpose "print the card face"). A revoked or superseded card gets no face: a
    printed card that no longer works is only good for deceiving someone."""
    from backend.audit import record_read
    from backend.cards import lifecycle
    from backend.registry.service import require_citizen

    card = lifecycle.get_card(sess, serial)
    if card.status not in LIVE_STATUSES:
        raise ApiError(Reason.CARD_STATE_INVALID, f"a {card.status} card gets no face", 409,
                       {"serial": card.serial, "status": card.status})
    holder = require_citizen(sess, card.citizen_id)
    record_read(sess, holder.id, PURPOSE, SHOWN, subject_type="card", subject_id=card.serial,
                principal=principal)
    face = Face(serial=card.serial, full_name=holder.full_name,
                national_number=holder.national_number, expires_on=card.expires_at.date(),
                city=settings["CITY_NAME"])
    return card.serial, render(face, settings["FONT_DIRS"])


def render(face: Face, font_dirs: Iterable[str]) -> bytes:
    """One CR80 page (landscape) of `face`, as PDF bytes."""
    faces = fonts(tuple(font_dirs))
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=CR80, invariant=1)
    canvas.setTitle(f"SatuKartu {face.serial}")
    canvas.setAuthor(f"Pemerintah {face.city}")
    canvas.setCreator("SatuKartu")
    _band(canvas, faces, face.city)
    _photo_box(canvas, faces)
    _holder(canvas, faces, face)
    qr(face.serial, QR_SIZE).drawOn(canvas, CR80[0] - MARGIN - QR_SIZE + 1.5 * mm,
                                    MARGIN - 1.5 * mm)  # the code's own quiet zone
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _band(canvas: Canvas, faces: Fonts, city: str) -> None:
    width, height = CR80
    canvas.setFillColor(CITY_BLUE)
    canvas.rect(0, height - BAND, width, BAND, stroke=0, fill=1)
    canvas.setFillColor(colors.white)
    canvas.setFont(faces.bold, 9)
    canvas.drawString(MARGIN, height - BAND + 3.2 * mm, "SatuKartu")
    style = ParagraphStyle("band", fontName=faces.regular, fontSize=6.5, leading=7.5,
                           textColor=colors.white, alignment=2)
    city_line = Paragraph(markup(f"Pemerintah {city}", faces), shaped(style, city))
    _, h = city_line.wrap(width - 2 * MARGIN - 22 * mm, BAND)
    city_line.drawOn(canvas, MARGIN + 22 * mm, height - BAND + (BAND - h) / 2)


def _photo_box(canvas: Canvas, faces: Fonts) -> None:
    x, top = MARGIN, CR80[1] - BAND - 2 * mm
    canvas.setStrokeColor(RULE_GREY)
    canvas.setLineWidth(0.6)
    canvas.setDash(2, 1.5)
    canvas.rect(x, top - PHOTO[1], PHOTO[0], PHOTO[1], stroke=1, fill=0)
    canvas.setDash()
    canvas.setFillColor(RULE_GREY)
    canvas.setFont(faces.regular, 6)
    canvas.drawCentredString(x + PHOTO[0] / 2, top - PHOTO[1] / 2 - 1 * mm, "FOTO")


def _holder(canvas: Canvas, faces: Fonts, face: Face) -> None:
    """Name (as large as fits in two lines), number, then serial and expiry."""
    x = MARGIN + PHOTO[0] + 3 * mm
    width = CR80[0] - x - MARGIN
    top = CR80[1] - BAND - 2 * mm
    name = _fitted_name(face.full_name, faces, width)
    _, h = name.wrap(width, 20 * mm)
    name.drawOn(canvas, x, top - h)
    y = top - h - 4.5 * mm
    text_width = width - QR_SIZE - 1 * mm  # left of the QR code, whatever the name took
    y = _field(canvas, faces, x, y, "Nomor induk kependudukan", face.national_number, 9,
               text_width)
    y = _field(canvas, faces, x, y - 1 * mm, "Nomor kartu", face.serial, 7, text_width)
    _field(canvas, faces, x, y - 1 * mm, "Berlaku hingga", f"{face.expires_on:%d-%m-%Y}", 7,
           text_width)


def _fitted_name(full_name: str, faces: Fonts, width: float) -> Paragraph:
    """The name in bold, Thai runs in the bold Thai face (named outright: `<b>` around
    a `<font>` run does not reach the Thai family's bold)."""
    content = markup(full_name, replace(faces, thai=faces.thai_bold))
    for size in NAME_SIZES:
        style = ParagraphStyle("name", fontName=faces.bold, fontSize=size,
                               leading=size * 1.25, textColor=colors.black)
        paragraph = Paragraph(content, shaped(style, full_name))
        _, h = paragraph.wrap(width, 100 * mm)
        if h <= 2 * style.leading + 0.1:
            return paragraph
    return paragraph  # the smallest size, however many lines: a name is never cut


def _field(canvas: Canvas, faces: Fonts, x: float, y: float, label: str, value: str,
           size: float, width: float) -> float:
    """A small grey label over its value (made smaller until it fits `width`); the y
    under the value."""
    canvas.setFillColor(colors.HexColor("#555555"))
    canvas.setFont(faces.regular, 5)
    canvas.drawString(x, y, label)
    canvas.setFillColor(colors.black)
    while size > 5 and canvas.stringWidth(value, faces.bold, size) > width:
        size -= 0.5
    canvas.setFont(faces.bold, size)
    canvas.drawString(x, y - size - 0.5 * mm, value)
    return y - size - 0.5 * mm - 3 * mm
