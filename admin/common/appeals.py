"""Appeals in plain words, for the kiosk and the counter alike: what an appeal is about,
where it stands, and how it ended. Never a reason code on screen (`messages.advice`
words a refusal)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from admin.common.messages import advice

STATUS_WORDS = {
    "open": _l("Waiting for a clerk"),
    "assigned": _l("A clerk is looking at it"),
    "resolved": _l("Answered"),
}
OUTCOME_WORDS = {
    "upheld": _l("You were right: the decision is changed"),
    "not_upheld": _l("The decision stays"),
}


def status_words(status: str) -> str:
    return str(STATUS_WORDS.get(status, status))


def outcome_words(outcome: str | None) -> str:
    return str(OUTCOME_WORDS.get(outcome or "", ""))


def subject_words(appeal: Any) -> str:
    """'Receipt 123' or the refusal's title ('Not part of this programme')."""
    if appeal.subject == "receipt":
        return str(_l("Receipt %(number)s", number=appeal.entry_id))
    return str(advice(appeal.reason).title)


