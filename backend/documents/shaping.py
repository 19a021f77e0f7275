"""Thai text shaping in ReportLab PDFs, through HarfBuzz (the `uharfbuzz` package).

Thai stacks its vowels and tone marks on and under the consonants: "ที่" puts the
tone mark above the vowel, "ญู" drops the consonant's tail to make room for the
vowel under it. Drawn glyph by glyph (what ReportLab does with a TrueType font
unless told to shape) the marks collide or sit in the wrong place; HarfBuzz applies
the font's own substitution and positioning rules (GSUB/GPOS).

How ReportLab 5 shapes, which the classes here are built around:

* A Paragraph shapes only if its style has `shaping=1` and the style's own font is
  shapable (a TrueType font, with `uharfbuzz` importable).
* Each word (text between spaces, across `<font>` runs) is then shaped whole with
  the HarfBuzz font of its first run. A font without a HarfBuzz font of its own
  leaves its words as they were.
* Glyphs that have no character of their own (a lowered tone mark, a consonant
  without its tail) are drawn through private-use characters, which the PDF's
  text layer would hand to a reader or a search instead of the Thai.
"""

from __future__ import annotations

import re
from typing import Any, NoReturn

from reportlab.pdfbase import pdfdoc
from reportlab.pdfbase.ttfonts import SUBSETN, TTFont

PRIVATE_USE = range(0xE000, 0xF900)
NIKHAHIT = "\u0e4d"
# Names Thai fonts give their mark glyphs (Adobe's glyph list and Noto's spelling).
THAI_GLYPH_NAMES = {
    "nikhahit": NIKHAHIT, "nikhahitthai": NIKHAHIT,
    "maiek": "\u0e48", "maiekthai": "\u0e48",
    "maitho": "\u0e49", "maithothai": "\u0e49",
    "maitri": "\u0e4a", "maitrithai": "\u0e4a",
    "maichattawa": "\u0e4b", "maichattawathai": "\u0e4b",
}
_UNI = re.compile(r"uni((?:[0-9A-F]{4})+)")
_U = re.compile(r"u([0-9A-F]{4,6})")


class PlainFace(TTFont):
    """A face whose words stay exactly as ReportLab has always set them.

    It is shapable, so a paragraph set in it shapes its Thai runs, but it offers no
    HarfBuzz font, so its own words are left alone: Latin, Indonesian and Vietnamese
    keep the spacing they had (no kerning pairs appear, line breaks do not move), and
    a word that starts in it is not run through a HarfBuzz font that lacks its
    characters.
    """

    def hbFont(self, fontSize: float = 10) -> NoReturn:
        raise AttributeError(f"{self.fontName} is not shaped")


class ShapedFace(TTFont):
    """A face shaped by HarfBuzz whose PDF text still reads as the text it shows.

    Each glyph that shaping substituted is mapped back, in the PDF's ToUnicode
    table, to the characters its name says it stands for; a copy-paste or a search
    then finds "ที่" rather than a private-use character.
    """

    def addObjects(self, doc: Any) -> None:
        state = self.state.get(doc)
        subsets = [list(s) for s in state.subsets] if state is not None else []
        super().addObjects(doc)
        names: dict[int, str] = {}
        for n, subset in enumerate(subsets):
            if not any(code in PRIVATE_USE for code in subset):
                continue
            names = names or self._glyph_names()
            base = (b"".join((SUBSETN(n), b"+", self.face.name, self.face.subfontNameX))
                    ).decode("pdfdoc")
            stream = doc.idToObject.get("toUnicodeCMap:" + base)
            if isinstance(stream, pdfdoc.PDFStream):
                texts = [self._text_of(code, names) for code in subset]
                stream.content = to_unicode_cmap(base, texts)

    def _glyph_names(self) -> dict[int, str]:
        font = self.hbFont()
        # `hbFace` raises rather than return None; the stubs type it optional.
        count = self.hbFace.glyph_count  # type: ignore[union-attr]
        return {gid: font.glyph_to_string(gid) for gid in range(count)}

    def _text_of(self, code: int, names: dict[int, str]) -> str:
        if code not in PRIVATE_USE:
            return chr(code)
        gid = self.face.charToGlyph.get(code)
        return glyph_text(names.get(gid, "")) or chr(code)


def glyph_text(name: str) -> str | None:
    """The characters a glyph stands for, read from its name (None if it cannot tell).

    Follows Adobe's naming convention: a suffix after "." names a variant
    ("uni0E48.small"), "_" joins the parts of a ligature ("nikhahit_maiEkthai").
    HarfBuzz moves the nikhahit of sara am (ำ) before a tone mark to draw them; it
    goes back after the marks here, so "น้ำ" reads as "น้" + "ํา", the compatibility
    form of the same word.
    """
    parts = name.split(".", 1)[0].split("_")
    text = []
    for part in parts:
        if (m := _UNI.fullmatch(part)) is not None:
            hexes = m.group(1)
            text += [chr(int(hexes[i:i + 4], 16)) for i in range(0, len(hexes), 4)]
        elif (m := _U.fullmatch(part)) is not None:
            text.append(chr(int(m.group(1), 16)))
        elif part.lower() in THAI_GLYPH_NAMES:
            text.append(THAI_GLYPH_NAMES[part.lower()])
        else:
            return None
    if NIKHAHIT in text and len(text) > 1:
        text = [c for c in text if c != NIKHAHIT] + [NIKHAHIT]
    return "".join(text)


def to_unicode_cmap(font_name: str, texts: list[str]) -> str:
    """ReportLab's ToUnicode CMap for one subset, where a code may stand for several
    characters (a ligature of marks)."""
    return "\n".join([
        "/CIDInit /ProcSet findresource begin", "12 dict begin", "begincmap",
        "/CIDSystemInfo", f"<< /Registry ({font_name})", f"/Ordering ({font_name})",
        "/Supplement 0", ">> def", f"/CMapName /{font_name} def", "/CMapType 2 def",
        "1 begincodespacerange", f"<00> <{len(texts) - 1:02X}>", "endcodespacerange",
        f"{len(texts)} beginbfchar",
        *(f"<{i:02X}> <{_utf16_hex(t)}>" for i, t in enumerate(texts)),
        "endbfchar", "endcmap", "CMapName currentdict /CMap defineresource pop", "end",
        "end",
    ])


def _utf16_hex(text: str) -> str:
    return text.encode("utf-16-be").hex().upper()
