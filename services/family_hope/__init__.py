"""Family hope: a quarterly conditional cash transfer to households that met the conditions."""

from services.family_hope.module import module

__all__ = ["module"]
