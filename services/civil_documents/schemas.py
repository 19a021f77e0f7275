"""What a kiosk or counter sends when a citizen asks for a document."""

from __future__ import annotations

from pydantic import Field

from backend.services import StrictModel


class DomicileRequest(StrictModel):
    """The stated purpose is printed on the letter ("untuk keperluan: ...")."""

    purpose: str = Field(min_length=3, max_length=120, pattern=r"^[^\x00-\x1f\x7f]+$")
