"""The screen checks themselves find what they are for, on pages made to fail them."""

from __future__ import annotations

import pytest

from tests.browser.checks import every_check

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]

BAD = """<!doctype html><html lang="th"><head><title>x</title></head><body>
<main data-speech=""><h1 style="font-family: 'DejaVu Sans'">สวัสดี</h1>
<p style="font-size: 14px">card_revoked 3171000000000001</p>
<button style="width: 20px; height: 20px; padding: 0">a</button><button>b</button>
<div style="width: 100px; overflow: hidden; white-space: nowrap">a long text that cannot fit</div>
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="></main></body></html>"""


@pytest.fixture
def bad_page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_content(BAD)
    yield page
    context.close()


def test_the_checks_find_every_kind_of_problem(bad_page):
    found = every_check(bad_page, min_text=28)
    assert set(found) == {"axe", "small targets", "crowded targets", "text", "raw codes",
                          "speech"}, found
    assert any("image-alt" in problem for problem in found["axe"])
    assert any("clipped" in problem for problem in found["text"])


def test_the_font_check_names_the_font_that_drew_the_text(bad_page):
    from tests.browser.checks import font_families

    assert "Noto Sans Thai" in font_families(bad_page, "h1")
    assert "Noto Sans Thai" not in font_families(bad_page, "button")
