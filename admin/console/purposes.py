"""Why an admin reads a citizen's record: chosen once per record, kept for its pages.

Every page that shows a person's data records a read with its purpose (the access log
the citizen sees says who read, when and why). An admin picks the purpose from a short
list when opening a record, as a clerk does at a counter; the choice is kept in the
admin's browser session (signed, cleared at sign-out) for that record's other pages:
its history, its edit form, its death form, its cards and household. A record opened
again in a new session asks again.

The purpose is written in the audit log in the stable words of `PURPOSES` (the
labels on screen are translated; the record keeps one wording).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import session as browser
from flask import url_for
from flask_babel import lazy_gettext as _l

from admin.common.sessions import Gone

KEY = "console_purposes"
KEEP = 30  # records remembered per session; older choices are asked for again

# key -> (what the admin reads on screen, what the audit log records)
PURPOSES: dict[str, tuple[object, str]] = {
    "request": (_l("The person asked to see or correct their record"),
                "the citizen asked to see or correct their record"),
    "card": (_l("Issuing, replacing or stopping their card"),
             "issuing, replacing or stopping the citizen's card"),
    "death": (_l("Recording a death reported to the city"),
              "recording a death reported to the city"),
    "eligibility": (_l("Checking whether they can join a programme"),
                    "checking programme eligibility"),
    "complaint": (_l("Answering a complaint or a question"),
                  "answering a complaint or question"),
    "legal": (_l("A request from an auditor, the police or a court"),
              "request from an auditor, the police or a court"),
}


def _subject(kind: str, ident: int) -> str:
    return f"{kind}{ident}"


def chosen_key(kind: str, ident: int) -> str | None:
    """The key of the purpose chosen for this record, if one was."""
    found = (browser.get(KEY) or {}).get(_subject(kind, ident))
    return found if found in PURPOSES else None


def chosen(kind: str, ident: int) -> str | None:
    """The audit wording of the purpose chosen for this record, if one was."""
    found = chosen_key(kind, ident)
    return PURPOSES[found][1] if found else None


def choose(kind: str, ident: int, key: str) -> None:
    """Keep the admin's choice for the record (and forget the oldest past `KEEP`)."""
    kept = dict(browser.get(KEY) or {})
    kept.pop(_subject(kind, ident), None)
    kept[_subject(kind, ident)] = key
    while len(kept) > KEEP:
        kept.pop(next(iter(kept)))
    browser[KEY] = kept


def require(kind: str, ident: int, here: str) -> str:
    """The purpose for reading this record, or the page that asks for it (then back to
    `here`). `kind` is "c" for a citizen, "h" for a household."""
    purpose = chosen(kind, ident)
    if purpose is None:
        endpoint = "console.citizen_purpose" if kind == "c" else "console.household_purpose"
        key = "citizen_id" if kind == "c" else "household_id"
        values: dict[str, Any] = {key: ident, "next": here}
        raise Gone(url_for(endpoint, **values))
    return purpose


def safe_next(target: str | None, fallback: str) -> str:
    """Only a console path: a purpose page must not send anyone elsewhere."""
    if not target:
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/console/") \
            or target.startswith("//") or "\\" in target:
        return fallback
    return target


def label(kind: str, ident: int) -> str | None:
    """The purpose chosen for this record, in the admin's language."""
    found = chosen_key(kind, ident)
    return str(PURPOSES[found][0]) if found else None


def choices() -> list[tuple[str, str]]:
    return [(key, str(shown)) for key, (shown, _recorded) in PURPOSES.items()]
