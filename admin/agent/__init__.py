"""The agent's point of sale at an e-Warong or Blue Flag shop: card and PIN choose the
beneficiary, the agent keys the amount, a receipt prints; the day's takings and its
settlement on one screen. See `views.py` and `sale.py`."""

from __future__ import annotations

from flask import Flask

from admin.agent.views import blueprint


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
