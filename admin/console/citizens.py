"""Citizens and households: find a person, say why, read the record and its history.

Search calls the registry's own search (`registry.service.search`, the API's). Its
list shows only what picks the right person (number, name, year of birth) and records
no read of anyone: the search itself is recorded as the admin's action, without the
people found. Opening a record asks why (`purposes.py`), then every page of that
record records a read with that purpose and the parts it shows, as the API's reads do.
Corrections and deaths are in `citizen_changes.py`.
"""

from __future__ import annotations

import re
from typing import Any

from flask import redirect, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from admin.console import purposes, reads
from admin.console.blueprint import blueprint, page
from backend import audit
from backend.api.routing import commit
from backend.cards.models import Card
from backend.db import session
from backend.registry import history as registry_history
from backend.registry import households, service
from backend.registry.api import citizen_out, household_out

PER_PAGE = 20
NAME_AT_LEAST = 3  # the registry's search takes names from three letters (trigram index)
MAX_QUERY = 200
NUMBER = re.compile(r"^[\d\s.\-]+$")
SEARCHED = "registry.search"


def notice_for(done: str | None) -> str | None:
    """What was just done, from the redirect's `done` (only words of ours are shown)."""
    words = {"edited": _("The record was corrected."),
             "unchanged": _("Nothing was changed: the answers were the same as before."),
             "death": _("The death was recorded. The record is now closed.")}
    return words.get(done or "")


def _parse_search(text: str) -> tuple[dict[str, str | None], list[dict[str, str]]]:
    """A national number when the text is digits (spaces, dots and dashes allowed),
    else part of a name."""
    text = text.strip()[:MAX_QUERY]
    if not text:
        return {}, [{"field": "q", "text": _("Enter a national number or a name")}]
    if NUMBER.fullmatch(text):
        return {"number": text, "name": None}, []
    if len(text) < NAME_AT_LEAST:
        return {}, [{"field": "q", "text": _("Enter at least 3 letters of the name")}]
    return {"number": None, "name": text}, []


@blueprint.get("/citizens")
def citizens() -> tuple[str, int]:
    text = request.args.get("q")
    if text is None:
        return page("console/citizens.html", q="", results=None)
    number_page = request.args.get("page", "1")
    current = int(number_page) if number_page.isdigit() and 0 < int(number_page) <= 1000 else 1
    terms, errors = _parse_search(text)
    if errors:
        return page("console/citizens.html", 400, q=text, results=None, errors=errors)
    people, more = service.search(session(), number=terms["number"], name=terms["name"],
                                  page=current, per_page=PER_PAGE)
    audit.record(session(), action=SEARCHED, subject_type="citizen",
                 details={"by": "number" if terms["number"] else "name",
                          "page": current, "found": len(people)})
    answer = page("console/citizens.html", q=text, results=people, more=more,
                  current=current)
    commit()
    return answer


# --- why ---------------------------------------------------------------------------


def _purpose_page(kind: str, ident: int, endpoint: str, fallback: str) -> Any:
    target = purposes.safe_next(request.values.get("next"), fallback)
    errors: list[dict[str, str]] = []
    if request.method == "POST":
        chosen = request.form.get("purpose", "")
        if chosen in purposes.PURPOSES:
            purposes.choose(kind, ident, chosen)
            return redirect(target, 303)
        errors.append({"field": "purpose", "text": _("Choose why you are opening this record")})
    assert request.view_args is not None  # set once a route matched, as this view's did
    return page("console/purpose.html", 400 if errors else 200, errors=errors, kind=kind,
                ident=ident, action=url_for(endpoint, **request.view_args), next=target,
                choices=purposes.choices(), checked=purposes.chosen_key(kind, ident))


@blueprint.route("/citizens/<int:citizen_id>/purpose", methods=["GET", "POST"])
def citizen_purpose(citizen_id: int) -> Any:
    return _purpose_page("c", citizen_id, "console.citizen_purpose",
                         url_for("console.citizen", citizen_id=citizen_id))


@blueprint.route("/households/<int:household_id>/purpose", methods=["GET", "POST"])
def household_purpose(household_id: int) -> Any:
    return _purpose_page("h", household_id, "console.household_purpose",
                         url_for("console.household", household_id=household_id))


# --- the record --------------------------------------------------------------------


def cards_of(citizen_id: int) -> list[Card]:
    """The person's cards, newest first (what `GET /api/v1/cards?citizen=` lists)."""
    return list(session().execute(select(Card).where(Card.citizen_id == citizen_id)
                                  .order_by(Card.id.desc())).scalars())


@blueprint.get("/citizens/<int:citizen_id>")
def citizen(citizen_id: int) -> tuple[str, int]:
    purpose = purposes.require("c", citizen_id, request.path)
    person = service.require_citizen(session(), citizen_id)
    record, fields = citizen_out(person)
    cards = cards_of(citizen_id)
    if cards:
        fields.append("cards")
    if record.household is not None:  # its family card is one of this record's pages
        purposes.choose("h", record.household.household_id,
                        str(purposes.chosen_key("c", citizen_id)))
    return reads.shown("console/citizen.html", purpose, [(citizen_id, fields)],
                       record=record, cards=cards, notice=notice_for(request.args.get("done")),
                       purpose_label=purposes.label("c", citizen_id))


@blueprint.get("/citizens/<int:citizen_id>/history")
def citizen_history(citizen_id: int) -> tuple[str, int]:
    purpose = purposes.require("c", citizen_id, request.path)
    person = service.require_citizen(session(), citizen_id)
    changes = registry_history.for_citizen(session(), citizen_id)
    return reads.shown("console/history.html", purpose,
                       [(citizen_id, ["full_name", "history"])], person=person,
                       changes=list(reversed(changes)),
                       purpose_label=purposes.label("c", citizen_id))


@blueprint.get("/households/<int:household_id>")
def household(household_id: int) -> tuple[str, int]:
    purpose = purposes.require("h", household_id, request.path)
    family = household_out(households.require_household(session(), household_id))
    shown = [(member.citizen_id, ["household", "full_name", "relationship"])
             for member in family.members]
    return reads.shown("console/household.html", purpose, shown, family=family)

