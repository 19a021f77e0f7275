"""The console's plain words: card states, revocation reasons, terminal kinds, refusals.

The hub speaks in stable codes (`keyCompromise`, `card_state_invalid`, `desk`); an
admin reads a sentence, with the code beside it where they need it to talk to the
API's users or to read the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from flask_babel import lazy_gettext as _l

from backend.errors import ApiError
from backend.reasons import Reason

CARD_STATUS = {
    "active": _l("Working"),
    "suspended": _l("On hold"),
    "revoked": _l("Stopped for good"),
    "superseded": _l("Replaced by a newer card"),
}
CARD_STATUS_TAG = {"active": "good", "suspended": "warn", "revoked": "bad", "superseded": "bad"}

# RFC 5280 revocation reasons (backend.cards.lifecycle.REVOKE_REASONS), in plain words.
REVOKE_REASON = {
    "keyCompromise": _l("Lost or stolen"),
    "cessationOfOperation": _l("The holder has died"),
    "privilegeWithdrawn": _l("The holder may no longer have a card"),
    "affiliationChanged": _l("The holder no longer lives in the city"),
    "superseded": _l("Replaced by a newer card"),
    "unspecified": _l("Another reason"),
    "certificateHold": _l("On hold"),
}

TERMINAL_KIND = {
    "kiosk": _l("Self-service kiosk"),
    "counter": _l("Service counter"),
    "agent": _l("Shop agent's terminal"),
    "gate": _l("Transit gate"),
    "desk": _l("Enrolment desk"),
}

SEX = {"F": _l("Female"), "M": _l("Male")}
RELATIONSHIP = {"head": _l("Head of the family"), "spouse": _l("Spouse"),
                "child": _l("Child"), "parent": _l("Parent"), "other": _l("Other")}
CHANGE_ACTION = {"create": _l("Registered"), "update": _l("Corrected"),
                 "death": _l("Death recorded")}
REPORT_LEVEL = {"regency": _l("City or regency"), "district": _l("District"),
                "village": _l("Village")}


def card_status(status: str) -> str:
    return str(CARD_STATUS.get(status, status))


def revoke_reason(reason: str | None) -> str:
    return str(REVOKE_REASON.get(reason or "", reason or ""))


def terminal_kind(kind: str) -> str:
    return str(TERMINAL_KIND.get(kind, kind))


def sex(code: str) -> str:
    return str(SEX.get(code, code))


def relationship(code: str) -> str:
    return str(RELATIONSHIP.get(code, code))


def change_action(action: str) -> str:
    return str(CHANGE_ACTION.get(action, action))


def report_level(level: str) -> str:
    return str(REPORT_LEVEL.get(level, level))


@dataclass(frozen=True)
class Problem:
    title: str
    next_step: str
    field: str | None = None  # the form field the refusal is about, if any


# Keyed by StrEnum: a programme module's own reason is looked up too (it gets GENERIC).
REFUSALS: dict[StrEnum, tuple[object, object, str | None]] = {
    Reason.DUPLICATE_ALREADY_DECIDED: (_l("Someone has already decided this pair"),
                                       _l("Their decision stands. The list below shows the "
                                          "pairs still waiting."), None),
    Reason.NOT_FOUND: (_l("Not found"), _l("It may have been typed wrongly. Go back and "
                                           "search again."), None),
    Reason.CARD_STATE_INVALID: (_l("The card is not in a state that allows this"),
                                _l("Look at the card's state above: only a working card can "
                                   "be put on hold or have its PIN unblocked, only a card "
                                   "on hold can be reinstated, and a stopped or replaced "
                                   "card cannot change any more."), None),
    Reason.CITIZEN_DECEASED: (_l("The record of a person who has died is closed"),
                              _l("It cannot be changed any more."), None),
    Reason.INVALID_NATIONAL_NUMBER: (_l("The national number is not valid"),
                                     _l("Check it against the identity card: it must also "
                                        "agree with the date of birth and sex."),
                                     "national_number"),
    Reason.DUPLICATE_NATIONAL_NUMBER: (_l("Another person has this national number"),
                                       _l("Check the number, or search for that person."),
                                       "national_number"),
    Reason.DUPLICATE_USERNAME: (_l("That username is taken"),
                                _l("Choose another username."), "username"),
    Reason.DUPLICATE_EMAIL: (_l("Another account has that e-mail address"),
                             _l("Use the person's own work address."), "email"),
    Reason.PASSWORD_TOO_WEAK: (_l("That password is too easy to guess"),
                               _l("Use at least 12 characters, for example three or four "
                                  "words, and not the username."), "password"),
    Reason.LAST_ADMIN: (_l("This is the last administrator who can sign in"),
                        _l("Add or turn on another administrator first."), None),
    Reason.ISSUANCE_JOB_OPEN: (_l("A new card is already being made for this person"),
                               _l("Finish or cancel that card on the Issuance page first."),
                               None),
    Reason.NOT_A_DESK: (_l("That terminal is not a working enrolment desk"),
                        _l("Choose another desk."), "desk"),
    Reason.CONFLICT: (_l("Someone changed this at the same time"),
                      _l("Open the page again and check before you try again."), None),
    Reason.SERVICE_UNAVAILABLE: (_l("The service is not available right now"),
                                 _l("Wait a moment and try again."), None),
    Reason.IDEMPOTENCY_KEY_REUSED: (_l("This form was already sent with other answers"),
                                    _l("Open the page again and start over."), None),
    Reason.IDEMPOTENCY_KEY_REQUIRED: (_l("This form did not come from the console"),
                                      _l("Open the page again and start over."), None),
}
GENERIC = (_l("That did not work"), _l("Check the answers and try again. If it happens "
                                       "again, tell the city's system team."), None)


def refusal(error: ApiError) -> Problem:
    title, next_step, field = REFUSALS.get(error.reason, GENERIC)
    return Problem(str(title), str(next_step), field)


HTTP = {
    403: (_l("This page is for city administrators"),
          _l("Sign in with an administrator's account, or go back to your own screen.")),
    404: (_l("Page not found"), _l("Check the address, or start again from the overview.")),
    405: (_l("This page cannot be opened that way"),
          _l("Start again from the overview.")),
    413: (_l("What you sent is too large"),
          _l("Send a smaller file, or ask the hub's operator to import it.")),
}


def http_problem(code: int) -> Problem:
    title, next_step = HTTP.get(code, (GENERIC[0], GENERIC[1]))
    return Problem(str(title), str(next_step))
