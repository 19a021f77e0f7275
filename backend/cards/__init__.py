"""Cards: the city's issuing CA, the card lifecycle, and card authentication.

Card sessions are opaque bearer tokens (`sks_...`) resolved to a Principal of kind
"card"; `init_app` registers that resolver (the API module adds its refusal hook).
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from backend.auth.principal import register_resolver
    from backend.cards.context import state
    from backend.cards.sessions import resolve_card_session

    state(app)
    register_resolver(app, resolve_card_session)
