"""The SatuKartu hub: registry, cards, audit, ledger and the API that ties them."""

from backend.app import create_app

__all__ = ["create_app"]
