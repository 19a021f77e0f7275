"""Possible duplicates: the clerks' queue of records that may be one person, decided.

The pairs are `backend.registry.dedup.review`'s, the decision is `review.decide`, the
API's one way (`POST /api/v1/duplicates/<id>/decision`): it closes the pair, marks a
second registration `duplicate_of` the first (the hub then serves it nothing), and
writes `registry.duplicate.decide` to the audit log. Clerks and admins, as the API.

A pair shows only what the clerk compares (`schemas.SHOWN`: national number, name,
birth date, sex, region), side by side, with how alike they are and on what; the
address, household and facts stay behind the full record. The page has one purpose,
so it asks for none: each person shown is recorded as read "to review possible
duplicate registrations", with the fields shown, before the page is.
"""

from __future__ import annotations

from typing import Any

from flask import redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from admin.console import once, reads, words
from admin.console.blueprint import Area, add_area, admin, blueprint, open_to
from backend.db import session
from backend.errors import ApiError
from backend.registry.dedup import review
from backend.registry.dedup.api import CLERK
from backend.registry.dedup.schemas import SHOWN

PURPOSE = "review possible duplicate registrations"
PER_PAGE = 10
MAX_NOTE = 1000

MATCHED = {"name": _l("Name"), "birth_date": _l("Same date of birth"),
           "birth_date_near": _l("Date of birth one slip apart"),
           "place": _l("Same district")}
SOURCE = {"registration": _l("Registered at a counter"), "import": _l("Imported from a file")}
DONE = {"same_person": _l("Recorded: one person. The newer record is now marked as a "
                          "second registration and is served nothing."),
        "different_people": _l("Recorded: two different people. Both records are served "
                               "as before.")}


def matched_words(codes: str) -> list[str]:
    return [str(MATCHED.get(code, code)) for code in codes.split(",") if code]


def _page_number() -> int:
    raw = request.args.get("page", "1")
    return min(int(raw), 10_000) if raw.isdigit() and int(raw) >= 1 else 1


def _queue(errors: list[dict[str, str]] | None = None, status: int = 200,
           notice: str | None = None) -> tuple[str, int]:
    number = _page_number()
    found, more = review.open_candidates(session(), number, PER_PAGE)
    people = {p.id for _row, new, old in found for p in (new, old)}
    return reads.shown("console/duplicates.html", PURPOSE,
                       [(person, SHOWN) for person in sorted(people)], status,
                       pairs=found, page_number=number, more=more, errors=errors or [],
                       notice=notice, matched_words=matched_words, sources=SOURCE)


@blueprint.route("/duplicates")
def duplicates() -> Any:
    done = request.args.get("done")
    return _queue(notice=str(DONE[done]) if done in DONE else None)


@blueprint.route("/duplicates/<int:candidate_id>/decision", methods=["POST"])
def duplicate_decision(candidate_id: int) -> Any:
    decision = request.form.get("decision", "")
    note = request.form.get("note", "").strip() or None
    errors = []
    if decision not in review.DECISIONS:
        errors.append({"field": f"decision-{candidate_id}",
                       "text": _("Choose whether the two records are one person")})
    if note is not None and len(note) > MAX_NOTE:
        errors.append({"field": f"note-{candidate_id}",
                       "text": _("Enter a note of at most 1000 characters")})
    if errors:
        return _queue(errors, 400)
    repeated = once.claim()
    if repeated is not None:
        return repeated
    try:
        review.decide(session(), candidate_id, decision, admin().subject, note)
    except ApiError as error:
        session().rollback()
        problem = words.refusal(error)
        return _queue([{"field": "", "text": f"{problem.title}. {problem.next_step}"}],
                      error.status)
    return once.finish(redirect(url_for("console.duplicates", done=decision), 303))


# the console's stylesheet and script too, or a clerk's page is drawn without them
open_to(CLERK.roles, "console.duplicates", "console.duplicate_decision", "console.static")
add_area(Area("console.duplicates", _l("Possible duplicates"), "duplicates"),
         before="console.cards")
