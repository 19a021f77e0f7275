"""Health coverage: membership, class and clinic from the registry; clinic visits as facts."""

from services.health.module import module

__all__ = ["module"]
