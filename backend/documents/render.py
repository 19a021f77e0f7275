"""ReportLab building blocks every city document shares: fonts, letterhead, tables, QR footer.

Output is deterministic (ReportLab's invariant mode: no creation date, a fixed file
id), so the same content always gives the same bytes; that is what lets the hub
re-render a receipt on demand and still recognise the exact file it issued.
"""

from __future__ import annotations

import io
import logging
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, cast
from xml.sax.saxutils import escape

from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Circle, Drawing, Polygon, Rect
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfmetrics import registerFontFamily
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from backend.documents.shaping import PlainFace, ShapedFace

log = logging.getLogger(__name__)

CITY_BLUE = colors.HexColor("#1f4e79")
RULE_GREY = colors.HexColor("#9aa5b1")
ZEBRA = colors.HexColor("#eef2f6")
FRAME_PADDING = 6  # points ReportLab's Frame keeps inside the margins on every side
THAI_RUN = re.compile("([\u0e00-\u0e7f]+)")
WORD = re.compile(r"\S+")
WORD_JOINER = "\u2060"


@dataclass(frozen=True)
class Fonts:
    """Names of the registered faces; `thai` is None when no Thai font is installed."""

    regular: str
    bold: str
    thai: str | None
    thai_bold: str | None


_FACES = {
    "SK-Sans": ("DejaVuSans.ttf", PlainFace),
    "SK-Sans-Bold": ("DejaVuSans-Bold.ttf", PlainFace),
    "SK-Thai": ("NotoSansThai-Regular.ttf", ShapedFace),
    "SK-Thai-Bold": ("NotoSansThai-Bold.ttf", ShapedFace),
}


def _find(name: str, dirs: Sequence[str]) -> Path | None:
    for folder in dirs:
        path = Path(folder) / name
        if path.is_file():
            return path
    return None


@lru_cache(maxsize=8)
def fonts(dirs: tuple[str, ...]) -> Fonts:
    """Register the TrueType faces found in `dirs` once per process.

    DejaVu Sans covers Latin with every Indonesian diacritic; Noto Sans Thai covers
    Thai, and is shaped by HarfBuzz (see `backend.documents.shaping`). Without DejaVu
    the PDF falls back to Helvetica (Latin-1 only) and says so in the log rather than
    failing: a receipt in plain Latin is better than none.
    """
    found = {face: _find(file, dirs) for face, (file, _) in _FACES.items()}
    for face, path in found.items():
        if path is not None and face not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(_FACES[face][1](face, str(path)))
    for family in ("SK-Sans", "SK-Thai"):
        if found[family] is not None:
            bold = family + "-Bold" if found[family + "-Bold"] else family
            registerFontFamily(family, normal=family, bold=bold, italic=family,
                               boldItalic=bold)
    if found["SK-Sans"] is None or found["SK-Sans-Bold"] is None:
        log.warning("DejaVu Sans not found in %s; PDFs use Helvetica", ", ".join(dirs))
        regular, bold = "Helvetica", "Helvetica-Bold"
    else:
        regular, bold = "SK-Sans", "SK-Sans-Bold"
    thai = "SK-Thai" if found["SK-Thai"] else None
    thai_bold = "SK-Thai-Bold" if found["SK-Thai-Bold"] else thai
    return Fonts(regular, bold, thai, thai_bold)


def markup(text: object, face: Fonts) -> str:
    """Escape `text` for a Paragraph and set its Thai words in the Thai face.

    DejaVu has no Thai glyphs, so a name like "สมชาย" would print as boxes; switching
    face per word keeps one paragraph readable in both scripts.
    """
    safe = escape(str(text))
    if face.thai is None:
        return safe
    thai = face.thai
    return WORD.sub(lambda m: _thai_word(m.group(0), thai), safe)


def shaped(style: ParagraphStyle, text: object) -> ParagraphStyle:
    """`style`, shaping on when `text` has Thai in it.

    Only then: ReportLab's shaping path writes the same glyphs in the same places but
    orders the PDF's operators differently, and a document without Thai keeps the
    exact bytes it was issued with.
    """
    if style.shaping or not THAI_RUN.search(str(text)):
        return style
    return ParagraphStyle(style.name, parent=style, shaping=1)


def _thai_word(word: str, thai: str) -> str:
    """A word with Thai in it, in the Thai face where that face can shape it.

    ReportLab shapes a word whole, with the font of its first run, so a word the Thai
    face covers entirely goes into it whole. A word mixing Thai with characters it
    lacks ("ชิ้น:", a masked "ส***") keeps DejaVu for those and is led by a zero-width
    word joiner in DejaVu, which leaves the word unshaped rather than drawn with
    missing glyphs.
    """
    if not THAI_RUN.search(word):
        return word
    if _covers(thai, word):
        return f'<font name="{thai}">{word}</font>'
    runs = THAI_RUN.sub(lambda m: f'<font name="{thai}">{m.group(1)}</font>', word)
    return WORD_JOINER + runs if THAI_RUN.match(word) else runs


def _covers(font_name: str, text: str) -> bool:
    # `getFont` is typed as returning a Type 1 `Font`; the faces here are TrueType.
    glyphs = cast(TTFont, pdfmetrics.getFont(font_name)).face.charToGlyph
    return all(ord(c) in glyphs for c in text)


@dataclass(frozen=True)
class Kit:
    """Styles and fonts for one document, so every template looks like its siblings."""

    face: Fonts
    city: str
    body: ParagraphStyle
    small: ParagraphStyle
    title: ParagraphStyle
    heading: ParagraphStyle
    right: ParagraphStyle
    centre: ParagraphStyle

    def p(self, text: object, style: ParagraphStyle | None = None, bold: bool = False
          ) -> Paragraph:
        """A paragraph of plain text (escaped; Thai runs in the Thai face)."""
        content = markup(text, self.face)
        return Paragraph(f"<b>{content}</b>" if bold else content,
                         shaped(style or self.body, text))


def kit(city: str, font_dirs: Iterable[str], scale: float = 1.0) -> Kit:
    """The house styles; `scale` shrinks them for an 80 mm kiosk receipt."""
    face = fonts(tuple(font_dirs))

    def style(name: str, size: float, **kw: Any) -> ParagraphStyle:
        return ParagraphStyle(name, fontName=kw.pop("font", face.regular),
                              fontSize=size * scale, leading=size * scale * 1.3, **kw)

    return Kit(
        face=face, city=city,
        body=style("body", 10),
        small=style("small", 7.5, textColor=colors.HexColor("#333333")),
        title=style("title", 14, font=face.bold, alignment=TA_CENTER, spaceAfter=2 * mm,
                    textColor=CITY_BLUE),
        heading=style("heading", 11, font=face.bold, spaceBefore=3 * mm, spaceAfter=1 * mm,
                      textColor=CITY_BLUE),
        right=style("right", 10, alignment=TA_RIGHT),
        centre=style("centre", 10, alignment=TA_CENTER),
    )


def emblem(size: float) -> Drawing:
    """The city's mark: a shield-blue disc with a five-pointed star (no image files)."""
    drawing = Drawing(size, size)
    r = size / 2
    drawing.add(Circle(r, r, r, fillColor=CITY_BLUE, strokeColor=None))
    drawing.add(Circle(r, r, r * 0.82, fillColor=None, strokeColor=colors.white,
                       strokeWidth=size / 40))
    points: list[float] = []
    for i in range(10):
        radius = r * (0.55 if i % 2 == 0 else 0.22)
        angle = math.pi / 2 + i * math.pi / 5
        points += [r + radius * math.cos(angle), r + radius * math.sin(angle)]
    drawing.add(Polygon(points, fillColor=colors.HexColor("#f2c14e"), strokeColor=None))
    return drawing


def letterhead(k: Kit, office: str, address: str = "") -> Table:
    """The city government's heading: emblem, city, issuing office, a double rule."""
    lines = [k.p(f"PEMERINTAH {k.city.upper()}", k.title, bold=True),
             k.p(office, k.centre, bold=True)]
    if address:
        lines.append(k.p(address, k.small))
    inner = Table([[line] for line in lines], style=[("ALIGN", (0, 0), (-1, -1), "CENTER"),
                                                     ("TOPPADDING", (0, 0), (-1, -1), 0)])
    head = Table([[emblem(18 * mm), inner, ""]], colWidths=[22 * mm, None, 22 * mm])
    head.setStyle(TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LINEBELOW", (0, 0), (-1, 0), 1.6, CITY_BLUE),
        ("BOTTOMPADDING", (0, 0), (-1, 0), 3 * mm),
    ]))
    return head


def fields(k: Kit, rows: Sequence[tuple[str, object]], label_width: float = 45 * mm) -> Table:
    """Label : value pairs, the way Indonesian civil letters list a person's particulars."""
    data = [[k.p(label), k.p(":"), k.p(value)] for label, value in rows]
    table = Table(data, colWidths=[label_width, 4 * mm, None], hAlign="LEFT")
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("LEFTPADDING", (0, 0), (-1, -1), 1),
                               ("TOPPADDING", (0, 0), (-1, -1), 1),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 1)]))
    return table


def grid(k: Kit, header: Sequence[str], rows: Sequence[Sequence[object]],
         widths: Sequence[float | None] | None = None, numeric: Sequence[int] = (),
         style: ParagraphStyle | None = None) -> Table:
    """A ruled table with a header row; `numeric` columns are right-aligned."""
    cell = style or k.body
    right = ParagraphStyle("num", parent=cell, alignment=TA_RIGHT)
    data = [[k.p(h, cell, bold=True) for h in header]]
    for row in rows:
        data.append([k.p(v, right if i in numeric else cell) for i, v in enumerate(row)])
    table = Table(data, colWidths=list(widths) if widths else None, repeatRows=1)
    commands: list[tuple[Any, ...]] = [
        ("GRID", (0, 0), (-1, -1), 0.4, RULE_GREY),
        ("BACKGROUND", (0, 0), (-1, 0), ZEBRA),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
    commands += [("BACKGROUND", (0, i), (-1, i), colors.HexColor("#f8fafc"))
                 for i in range(2, len(data), 2)]
    table.setStyle(TableStyle(commands))
    return table


@lru_cache(maxsize=256)
def _qr_modules(url: str) -> tuple[tuple[float, float, float, float], ...]:
    """The dark rectangles of `url`'s QR code in a unit square (quiet zone included)."""
    group = QrCodeWidget(url, barLevel="M", barBorder=4).draw()
    x0, y0, x1, y1 = group.getBounds()
    sx, sy = 1 / (x1 - x0), 1 / (y1 - y0)
    return tuple(((r.x - x0) * sx, (r.y - y0) * sy, r.width * sx, r.height * sy)
                 for r in group.contents if isinstance(r, Rect) and r.fillColor is not None
                 and r.fillColor != colors.white)


class QrCode(Flowable):
    """A QR code drawn as one filled path.

    Encoding (mask selection) and ReportLab's per-shape drawing were most of a
    receipt's rendering time; the shapes are computed once per URL and drawn in a
    single fill.
    """

    def __init__(self, url: str, size: float) -> None:
        super().__init__()
        self.url, self.size = url, size
        self.width = self.height = size

    def wrap(self, _available_width: float, _available_height: float) -> tuple[float, float]:
        return self.size, self.size

    def draw(self) -> None:
        path = self.canv.beginPath()
        for x, y, w, h in _qr_modules(self.url):
            path.rect(x * self.size, y * self.size, w * self.size, h * self.size)
        self.canv.setFillColor(colors.black)
        self.canv.drawPath(path, stroke=0, fill=1)


def qr(url: str, size: float) -> QrCode:
    """A QR code of `url`, `size` points square, with the quiet zone the standard asks."""
    return QrCode(url, size)


@dataclass(frozen=True)
class Footer:
    """What every page carries at its foot: the QR, the verification URL, a fingerprint.

    Without a `verify_url` (a report, not a signed document) it is the note and the
    fingerprint line only, and no QR code.
    """

    verify_url: str
    note: str
    fingerprint: str

    def draw(self, k: Kit, canvas: Canvas, page_width: float, margin: float,
             qr_size: float = 22 * mm) -> None:
        canvas.saveState()
        x = margin
        if self.verify_url:
            qr(self.verify_url, qr_size).drawOn(canvas, margin, margin - 4 * mm)
            x = margin + qr_size + 3 * mm
        width = page_width - x - margin
        lines = [line for line in (self.note, self.verify_url, self.fingerprint) if line]
        for i, line in enumerate(lines):
            para = k.p(line, k.small)
            _, h = para.wrap(width, 20 * mm)
            para.drawOn(canvas, x, margin + qr_size - 8 * mm - i * 4 * mm - h + 4 * mm)
        canvas.setFont(k.face.regular, 7)
        canvas.drawRightString(page_width - margin, margin - 3 * mm, f"{canvas.getPageNumber()}")
        canvas.restoreState()


def build(story: list[Flowable], *, k: Kit, title: str, footer: Footer | None,
          pagesize: tuple[float, float] = A4, margin: float = 18 * mm,
          bottom: float | None = None) -> bytes:
    """Lay out `story` into PDF bytes, the footer on every page; deterministic output."""
    buffer = io.BytesIO()
    reserve = (32 * mm if footer else margin) if bottom is None else bottom
    doc = SimpleDocTemplate(buffer, pagesize=pagesize, leftMargin=margin, rightMargin=margin,
                            topMargin=margin, bottomMargin=reserve, title=title,
                            author=f"Pemerintah {k.city}", creator="SatuKartu",
                            subject=title, invariant=1)

    def on_page(canvas: Canvas, _doc: Any) -> None:
        if footer is not None:
            footer.draw(k, canvas, pagesize[0], margin)

    doc.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return buffer.getvalue()


def measured_height(story: Sequence[Flowable], width: float) -> float:
    """Total height of `story` laid out at `width`: sizes a roll-paper receipt page."""
    total = 0.0
    for flowable in story:
        _, h = flowable.wrap(width, 10_000)
        total += h + flowable.getSpaceBefore() + flowable.getSpaceAfter()
    return total


def gap(height_mm: float) -> Spacer:
    return Spacer(1, height_mm * mm)


Renderer = Callable[[dict[str, Any], str], bytes]
