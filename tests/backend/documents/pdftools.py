"""Look at a PDF the way a person would: its text, its pages as pictures, its QR codes.

Uses poppler-utils (`pdftotext`, `pdftoppm`) and zbar-tools (`zbarimg`) from Debian.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from PIL import Image

TOOLS = ("pdftotext", "pdftoppm", "zbarimg")


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is missing: apt-get install poppler-utils zbar-tools"
    return path


def text(pdf: bytes) -> str:
    """The text a reader sees, in reading order, whitespace collapsed to single spaces."""
    out = subprocess.run([_tool("pdftotext"), "-enc", "UTF-8", "-", "-"], input=pdf,
                         capture_output=True, check=True).stdout.decode("utf-8")
    return " ".join(out.split())


def unbroken(pdf: bytes) -> str:
    """The text with every space and line break removed: finds a URL wrapped over lines."""
    return "".join(text(pdf).split())


def pages(pdf: bytes, folder: Path, dpi: int = 150) -> list[Path]:
    """Render each page to a PNG file; returns them in page order."""
    source = folder / "document.pdf"
    source.write_bytes(pdf)
    subprocess.run([_tool("pdftoppm"), "-r", str(dpi), "-png", str(source),
                    str(folder / "page")], check=True, capture_output=True)
    return sorted(folder.glob("page*.png"))


def ink_share(png: Path) -> float:
    """The share of pixels that are not (near) white: 0.0 is a blank page."""
    with Image.open(png) as image:
        grey = image.convert("L")
        histogram = grey.histogram()
    inked = sum(histogram[:200])
    return inked / (grey.width * grey.height)


def qr_codes(png: Path) -> list[str]:
    """Every QR code zbar finds on the picture, decoded."""
    result = subprocess.run([_tool("zbarimg"), "--quiet", "--raw", "-Sdisable",
                             "-Sqrcode.enable", str(png)], capture_output=True)
    return [line for line in result.stdout.decode("utf-8").splitlines() if line]
