"""Thai in the city's PDFs is shaped: it looks the way HarfBuzz (hb-view) sets it.

A receipt whose items are Thai is rendered to PNG (kept in the test's tmp folder to
look at). The comparison itself is on one line of the same building blocks, so its
ink can be cropped without knowing the layout: the line is rasterised with
`pdftoppm`, the same text is drawn by `hb-view` (Debian's libharfbuzz-bin) from the
same font at the same pixel size, both are cut to their ink and compared pixel by
pixel after thickening each stroke a little (anti-aliasing differs between the two
rasterisers). Unshaped Thai fails it: its tone marks sit on the vowels (ที่), its
vowels collide with consonant tails (ญู, ฐู), so the ink is in other places.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageFilter
from reportlab.lib.styles import ParagraphStyle

from backend.documents import receipts, render
from backend.documents.issuing import Page
from tests.backend.documents import pdftools

FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype/noto")
THAI_FONT = Path("/usr/share/fonts/truetype/noto/NotoSansThai-Regular.ttf")
# Tone marks over upper vowels, a sara am after a tone mark, lower vowels under
# consonants with tails: every place where drawing glyph by glyph goes wrong. Thai
# runs its words together, so this is one word to ReportLab, set in one face (a
# space would be DejaVu's, wider than the one hb-view draws).
LINE = "น้ำปลาที่ผู้รับญูฐูปู่สมศักดิ์"
SIZE_PT = 20
DPI = 216  # 20 pt at 216 dpi is 60 px: hb-view's --font-size is in pixels
AGREEMENT = 0.9  # shaped Noto Sans Thai scores 1.0 here, glyph by glyph about 0.75


def _hb_view() -> str:
    path = shutil.which("hb-view")
    assert path, "hb-view is missing: apt-get install libharfbuzz-bin"
    return path


def _ink(path: Path) -> Image.Image:
    """Black-on-white ink mask of a picture, cut to its ink."""
    with Image.open(path) as picture:
        grey = picture.convert("L")
    mask = grey.point(lambda v: 255 if v < 128 else 0)
    box = mask.getbbox()
    assert box, f"{path} has no ink"
    return mask.crop(box)


def agreement(ours: Image.Image, theirs: Image.Image) -> float:
    """Share of either picture's ink that the other one also has (within 2 px)."""
    theirs = theirs.resize(ours.size)
    wide_ours, wide_theirs = (im.filter(ImageFilter.MaxFilter(5)) for im in (ours, theirs))

    def covered(ink: Image.Image, wide: Image.Image) -> float:
        inside = ImageChops.multiply(ink, wide).histogram()[255]
        return inside / max(ink.histogram()[255], 1)

    return min(covered(ours, wide_theirs), covered(theirs, wide_ours))


def _line_pdf(text: str) -> bytes:
    k = render.kit("Kota Contoh", FONT_DIRS)
    style = ParagraphStyle("line", parent=k.body, fontSize=SIZE_PT,
                                  leading=SIZE_PT * 1.6)
    return render.build([k.p(text, style)], k=k, title="line", footer=None,
                        pagesize=(500, 80), margin=10, bottom=10)


def _rasterise(pdf: bytes, folder: Path, name: str) -> Path:
    source = folder / f"{name}.pdf"
    source.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", str(DPI), "-png", "-singlefile", str(source),
                    str(folder / name)], check=True, capture_output=True)
    return folder / f"{name}.png"


def _hb_line(text: str, folder: Path) -> Path:
    out = folder / "harfbuzz.png"
    subprocess.run([_hb_view(), f"--font-size={SIZE_PT * DPI // 72}", "--margin=16",
                    "--output-format=png", f"--output-file={out}", str(THAI_FONT), text],
                   check=True, capture_output=True)
    return out


@pytest.fixture(scope="module")
def thai_font() -> None:
    if not THAI_FONT.is_file():
        pytest.fail(f"{THAI_FONT} is missing: apt-get install fonts-noto-core")


def test_thai_line_matches_harfbuzz(tmp_path, thai_font):
    ours = _rasterise(_line_pdf(LINE), tmp_path, "ours")
    theirs = _hb_line(LINE, tmp_path)
    score = agreement(_ink(ours), _ink(theirs))
    assert score >= AGREEMENT, f"{ours} and {theirs} differ: agreement {score:.2f}"


def test_the_comparison_tells_unshaped_thai_apart(tmp_path, thai_font):
    """The same measure, given text drawn glyph by glyph (marks apart from their
    clusters), does not pass: a pass above means shaping, not a lenient measure."""
    theirs = _ink(_hb_line(LINE, tmp_path))
    unshaped = tmp_path / "unshaped.png"
    subprocess.run([_hb_view(), f"--font-size={SIZE_PT * DPI // 72}", "--margin=16",
                    "--shapers=fallback", "--features=-ccmp,-mark,-mkmk,-kern",
                    f"--output-file={unshaped}", str(THAI_FONT), LINE],
                   check=True, capture_output=True)
    assert agreement(_ink(unshaped), theirs) < AGREEMENT


def test_a_thai_receipt_reads_back_and_is_kept_to_look_at(tmp_path, thai_font):
    content = {
        "number": "1042", "entry_kind": "spend", "programme": "food",
        "programme_title": "Bantuan pangan", "time": "2025-03-04T05:06:07+00:00",
        "holder": {"full_name": "สมศักดิ์ ใจดี"},
        "agent": {"name": "ร้านป้าน้ำ", "terminal_id": "T-7"},
        "items": [{"name": "น้ำปลา", "quantity": 2, "amount": 24_000},
                  {"name": "ข้าวหอมมะลิ 5 กก.", "quantity": 1, "amount": 95_000},
                  {"name": "ไข่ไก่", "quantity": 1, "amount": 30_000}],
        "amount": 149_000, "balance_after": 51_000,
    }
    page = Page("Kota Contoh", FONT_DIRS, "Asia/Bangkok",
                "https://hub.test/api/v1/documents/x/verify", "SHA-256 ab12")
    pdf = receipts.render_receipt(content, page)
    pictures = pdftools.pages(pdf, tmp_path)
    assert pictures and pdftools.ink_share(pictures[0]) > 0.01
    words = pdftools.text(pdf)
    assert "ไข่ไก่" in words and "สมศักดิ์" not in words  # the holder's name is masked
    assert "ข้าวหอมมะลิ" in words
