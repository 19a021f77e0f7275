"""What every screen must hold, measured in the browser (../shared/SCREENS.md K2, K3,
K7, K8, K10): axe, target sizes and gaps, text size, clipping, Thai fonts, plain words."""

from __future__ import annotations

import re
from typing import Any

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
MIN_TARGET = 48
MIN_GAP = 8
RAW_CODE = re.compile(r"\b[a-z]+_[a-z_]+\b|[A-Z_]{4,}-\d+|Do Not Honou?r|\d{16}")

_TARGETS = """() => {
  const seen = [];
  const query = 'a[href], button, input, select, textarea, .choice label';
  for (const el of document.querySelectorAll(query)) {
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    if (style.visibility === 'hidden' || style.display === 'none') continue;
    if (box.width <= 1 || box.height <= 1) continue;
    if (el.type === 'radio' || el.type === 'hidden' || el.closest('[hidden]')) continue;
    seen.push({name: (el.id || el.textContent || el.name || el.tagName).trim().slice(0, 40),
               x: box.left, y: box.top, w: box.width, h: box.height});
  }
  return seen;
}"""

_TEXT = """() => {
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const el = node.parentElement;
    if (!node.textContent.trim() || !el || el.closest('[hidden], script, style')) continue;
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0 || el.closest('.visually-hidden')) continue;
    const style = getComputedStyle(el);
    found.push({text: node.textContent.trim().slice(0, 60), size: parseFloat(style.fontSize),
                clipped: el.scrollWidth > el.clientWidth + 1 && style.overflow !== 'visible'
                         || el.scrollHeight > el.clientHeight + 1 && style.overflowY === 'hidden'});
  }
  return found;
}"""


def axe_violations(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": AXE_TAGS}})
    return [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
            for v in results.response["violations"] if v["impact"] in ("serious", "critical")]


def small_targets(page: Any) -> list[str]:
    return [f"{t['name']!r} {t['w']:.0f}x{t['h']:.0f}" for t in page.evaluate(_TARGETS)
            if t["w"] < MIN_TARGET - 0.5 or t["h"] < MIN_TARGET - 0.5]


def crowded_targets(page: Any) -> list[str]:
    """Pairs of targets closer than 8 px (one inside the other is one target)."""
    targets = page.evaluate(_TARGETS)
    close = []
    for i, a in enumerate(targets):
        for b in targets[i + 1:]:
            dx = max(b["x"] - (a["x"] + a["w"]), a["x"] - (b["x"] + b["w"]), 0)
            dy = max(b["y"] - (a["y"] + a["h"]), a["y"] - (b["y"] + b["h"]), 0)
            if not _nested(a, b) and max(dx, dy) < MIN_GAP - 0.5:
                close.append(f"{a['name']!r} / {b['name']!r}")
    return close


def _nested(a: dict[str, float], b: dict[str, float]) -> bool:
    """One box inside the other: a label around its own control is one target."""
    def inside(inner: dict[str, float], outer: dict[str, float]) -> bool:
        return (inner["x"] >= outer["x"] - 0.5 and inner["y"] >= outer["y"] - 0.5
                and inner["x"] + inner["w"] <= outer["x"] + outer["w"] + 0.5
                and inner["y"] + inner["h"] <= outer["y"] + outer["h"] + 0.5)
    return inside(a, b) or inside(b, a)


def small_or_clipped_text(page: Any, min_size: float) -> list[str]:
    problems = []
    for node in page.evaluate(_TEXT):
        if node["size"] < min_size - 0.1:
            problems.append(f"{node['text']!r} at {node['size']} px")
        if node["clipped"]:
            problems.append(f"{node['text']!r} clipped")
    if page.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1"):
        problems.append("the page scrolls sideways")
    return problems


def font_families(page: Any, selector: str) -> set[str]:
    """The fonts Chromium really drew the node's text with (not the CSS stack)."""
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        assert node, f"no {selector} on {page.url}"
        fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    finally:
        cdp.detach()
    return {font["familyName"] for font in fonts}


# A card's serial (three groups of four Crockford base32 characters) is for a person to
# read: a random one such as MTJG-6204-... is not an error id.
CARD_SERIAL = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b")


def raw_codes(page: Any) -> list[str]:
    """Reason codes, error ids or 16-digit numbers visible to a person (K10)."""
    return RAW_CODE.findall(CARD_SERIAL.sub("", page.inner_text("body")))


def every_check(page: Any, min_text: float) -> dict[str, list[str]]:
    found = {"axe": axe_violations(page), "small targets": small_targets(page),
             "crowded targets": crowded_targets(page),
             "text": small_or_clipped_text(page, min_text), "raw codes": raw_codes(page)}
    speech = page.get_attribute("main", "data-speech") or ""
    if not speech.strip():
        found["speech"] = ["no speech script"]
    if page.get_attribute("html", "lang") == "th":
        families = font_families(page, "h1")
        if "Noto Sans Thai" not in families:
            found["thai font"] = sorted(families)
    return {name: problems for name, problems in found.items() if problems}
