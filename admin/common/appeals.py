"""Appeals in plain words, for the kiosk and the counter alike: what an appeal is about,
where it stands, and how it ended. Never a reason code on screen (`messages.advice`
words a refusal)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_babel import lazy_gettext as _l

from admin.common.messages import Advice, advice

STATUS_WORDS = {
    "open": _l("Waiting for a clerk"),
    "assigned": _l("A clerk is looking at it"),
    "resolved": _l("Answered"),
}
OUTCOME_WORDS = {
    "upheld": _l("You were right: the decision is changed"),
    "not_upheld": _l("The decision stays"),
}


# A refusal whose shared words fit another case badly, in its programme's own words.
PROGRAMME_ADVICE: dict[tuple[str, str], Advice] = {
    ("civil_documents", "rate_limited"): Advice(
        _l("Today's documents are already issued"),
        _l("You can have a few documents a day. Please come back tomorrow.")),
}


def refusal_advice(reason: str | None, programme: str | None = None) -> Advice:
    """The words for a refusal of `programme`'s action, or the shared words."""
    return PROGRAMME_ADVICE.get((programme or "", reason or "")) or advice(reason)


def status_words(status: str) -> str:
    return str(STATUS_WORDS.get(status, status))


def outcome_words(outcome: str | None) -> str:
    return str(OUTCOME_WORDS.get(outcome or "", ""))


def subject_words(appeal: Any, words: Callable[[str | None], Advice] | None = None) -> str:
    """'Receipt 123' or the refusal's title ('Not part of this programme'), in the words
    of the screen's own table (`words`: the counter has its own for staff)."""
    if appeal.subject == "receipt":
        return str(_l("Receipt %(number)s", number=appeal.entry_id))
    if words is None:
        return str(refusal_advice(appeal.reason, appeal.programme).title)
    return str(words(appeal.reason).title)


