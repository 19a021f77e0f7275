"""The console's list of terminals shows an agent shop's category beside its kind."""

from __future__ import annotations

import re

from backend.testing.identity import make_terminal
from tests.admin.staff_screens import sign_in_on_screens


def test_the_terminals_page_shows_an_agents_category(site, app):
    sign_in_on_screens(site, app, "admin")
    shop = make_terminal(app, "agent", category="e-warong")
    page = site.get("/console/terminals?lang=en").get_data(as_text=True)
    row = re.search(rf'data-terminal="{shop.terminal_id}">(.*?)</tr>', page, re.S)
    assert row and re.search(r"data-category>e-warong<", row.group(1))
