"""A plain tabular PDF (ReportLab) for the audit exports and the citizen's access log.

Kept apart from the civil documents' letterheads on purpose: the audit log is read
by every domain and must not depend on any of them.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from backend.documents.shaping import PlainFace

FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu")
HEADER_BLUE = colors.HexColor("#1f4e79")
ZEBRA = colors.HexColor("#eef2f6")


@lru_cache(maxsize=1)
def _faces() -> tuple[str, str]:
    """DejaVu Sans when installed (every Latin diacritic), else Helvetica."""
    for folder in FONT_DIRS:
        regular, bold = Path(folder) / "DejaVuSans.ttf", Path(folder) / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            # The city documents' class for the same face: ReportLab keeps one font
            # object per face, whichever registers it first.
            pdfmetrics.registerFont(PlainFace("Audit-Sans", str(regular)))
            pdfmetrics.registerFont(PlainFace("Audit-Sans-Bold", str(bold)))
            return "Audit-Sans", "Audit-Sans-Bold"
    return "Helvetica", "Helvetica-Bold"


def table_report(title: str, facts: Sequence[tuple[str, str]], header: Sequence[str],
                 rows: Sequence[Sequence[object]], notes: Sequence[str] = (),
                 widths: Sequence[float | None] | None = None) -> bytes:
    """Title, a block of label/value facts, one table, closing notes; landscape A4."""
    regular, bold = _faces()
    small = ParagraphStyle("cell", fontName=regular, fontSize=7, leading=8.5)
    small_bold = ParagraphStyle("head", parent=small, fontName=bold, textColor=colors.white)
    body = ParagraphStyle("body", fontName=regular, fontSize=9, leading=11.5)
    heading = ParagraphStyle("title", fontName=bold, fontSize=15, leading=19,
                             textColor=HEADER_BLUE, spaceAfter=4 * mm)
    story: list = [Paragraph(escape(title), heading)]
    story.append(Table([[Paragraph(f"<b>{escape(k)}</b>", body), Paragraph(escape(v), body)]
                        for k, v in facts], colWidths=(55 * mm, None), hAlign="LEFT"))
    story.append(Spacer(1, 5 * mm))
    data = [[Paragraph(escape(h), small_bold) for h in header]]
    data += [[Paragraph(escape("" if v is None else str(v)), small) for v in row]
             for row in rows]
    grid = Table(data, colWidths=widths, repeatRows=1, hAlign="LEFT")
    grid.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, 0), HEADER_BLUE),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), (colors.white, ZEBRA)),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#9aa5b1")),
    ]))
    story.append(grid)
    for note in notes:
        story += [Spacer(1, 3 * mm), Paragraph(escape(note), body)]
    out = io.BytesIO()
    document = SimpleDocTemplate(out, pagesize=landscape(A4), title=title,
                                 leftMargin=12 * mm, rightMargin=12 * mm,
                                 topMargin=12 * mm, bottomMargin=12 * mm)
    document.build(story)
    return out.getvalue()
