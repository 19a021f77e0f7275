"""Civil documents: a domicile letter or a family-card extract, signed by the city."""

from services.civil_documents.module import module

__all__ = ["module"]
