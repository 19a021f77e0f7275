"""The web front ends: the hub's home page, and the screens people use.

Each screen is a package with its blueprint, templates and static files (`kiosk/`,
`agent/`, later `counter/`, `console/`, `audit/`), built on `common/` (languages,
layout, style, security headers, how a page meets the card reader). Pages call the
same domain code as the API; see `admin/README.md` for how the page meets the card.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from admin import agent, audit, common, console, counter, kiosk, staff
    from admin.home import blueprint

    if "home" in app.blueprints:
        return
    app.register_blueprint(blueprint)
    common.init_app(app)
    kiosk.init_app(app)
    agent.init_app(app)
    staff.init_app(app)
    audit.init_app(app)
    counter.init_app(app)
    console.init_app(app)
