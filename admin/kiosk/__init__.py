"""The citizen's kiosk: tap to see programmes and balances, PIN for the rest.

Every page reads the card session from its cookie (see `admin.common.sessions`) and
calls the same functions as the API: what a tap may show, what needs the PIN, the
audit of every read. The reader daemon on the kiosk PC tells the page about the card
(`static/common/screen.js`); the page hands the card session it gets to the hub once
(`POST /kiosk/session`) and from then on the cookie carries it.
"""

from __future__ import annotations

from flask import Flask

from admin.kiosk import appeals  # noqa: F401 - routes
from admin.kiosk.views import blueprint


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
