"""The web front ends. Today: the hub's public home page and its API reference.

The kiosk, counter and admin screens come later, as blueprints here, signing in
through the same API as every other client.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from admin.home import blueprint

    app.register_blueprint(blueprint)
