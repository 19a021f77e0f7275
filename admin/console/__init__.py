"""The admin console (`/console`): the city administrators' everyday screens.

Citizens and households, cards, terminals, staff and roles, the monthly reports, and
an overview. Each area is a module that adds its views to the one blueprint
(`blueprint.py`); importing this package imports them all. Pages call the domain
functions the API calls, with the signed-in admin as the principal, so the rules and
the audit records are the API's. How a form is sent once: `once.py`. Why a record is
read: `purposes.py`.

To add an area: a module here that imports `blueprint` and adds its views, imported
below, and its entry in `blueprint.CONSOLE_NAV` (or `add_area()`); its templates extend
`console/layout.html`.
"""

from __future__ import annotations

from flask import Flask

from admin.console import (  # noqa: F401 - each module adds its views to the blueprint
    approvals,
    cards,
    citizen_changes,
    citizens,
    duplicates,
    home,
    imports,
    issuance,
    jobs,
    programmes,
    reports,
    staff_accounts,
    terminals,
)
from admin.console.blueprint import CONSOLE_NAV, Area, add_area, blueprint

__all__ = ["CONSOLE_NAV", "Area", "add_area", "blueprint", "init_app"]


def init_app(app: Flask) -> None:
    if blueprint.name not in app.blueprints:
        app.register_blueprint(blueprint)
