"""The city library's print credit: residents print pages at a library kiosk.

Written only against `backend.services`, as a third party would. Its purse's rules
are data, in `services.toml` beside this file (package data): installed with the code,
so a city adds the programme without editing its own services file, and may still
change the rules there (`backend.services.purse_rules`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field

from backend.services import (
    Action,
    Citizen,
    Eligibility,
    Param,
    Reason,
    ServiceContext,
    ServiceModule,
    StrictModel,
    refuse,
)


class LibraryReason(StrEnum):
    """Refusals only a library has: the hub's reasons do not say them."""

    LIBRARY_CLOSED = "library_closed"


def _yes_no(text: str) -> bool:
    if text.lower() not in ("true", "false"):
        raise ValueError("true or false")
    return text.lower() == "true"


class PrintJob(StrictModel):
    pages: int = Field(ge=1, le=500)


def print_pages(ctx: ServiceContext, job: PrintJob) -> dict[str, Any]:
    if ctx.params["closed"]:
        refuse(LibraryReason.LIBRARY_CLOSED, "the library is closed today", 409)
    if job.pages > ctx.params["max_pages"]:
        refuse(Reason.AMOUNT_ABOVE_CAP, "too many pages at once", cap=ctx.params["max_pages"])
    posting = ctx.debit("pages", job.pages, kind="spend", details={"pages": job.pages})
    return {"entry_id": posting.entry_id, "pages_left": posting.balance_after}


class Library(ServiceModule):
    key = "library"
    title = {"en": "Library print credit", "id": "Kuota Cetak Perpustakaan"}
    params = {"max_pages": Param(50, "Most pages in one print job."),
              "closed": Param(False, "The library is closed: no printing.", parse=_yes_no,
                              needs_approval=False)}
    actions = {"print": Action(print_pages, purpose="library printing", input=PrintJob,
                               assurance="pin", terminal_kinds=("kiosk",))}
    reasons = LibraryReason

    def eligibility(self, ctx: ServiceContext, citizen: Citizen) -> Eligibility:
        if citizen.died_on is not None:
            return Eligibility.no("deceased")
        return Eligibility.yes()


module = Library()
