"""The SatuKartu hub: registry, cards, audit, ledger and the API that ties them.

`create_app` is imported on first use, so that the `satukartu` command still runs its
reader-side commands on a kiosk PC that installed only the `reader` extra (no Flask).
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from backend.app import create_app

        return create_app
    raise AttributeError(name)
