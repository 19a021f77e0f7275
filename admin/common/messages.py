"""Refusals in plain words: what happened and what to do next, never a reason code.

The reader daemon and the hub refuse with stable codes (`pin_invalid`, `card_revoked`,
...). A person at a kiosk or a shop needs a sentence instead, in their language, that
says where to go: this table is the only place that turns one into the other.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class Advice:
    title: str
    next_step: str


GENERIC = Advice(_l("Something went wrong"),
                 _l("Please take your card and try again. If it happens again, ask the staff "
                    "at the service counter for help."))

ADVICE: dict[str, Advice] = {
    "pin_blocked": Advice(_l("Your card is blocked"),
                          _l("The PIN was entered wrongly too many times. Take your card and "
                             "your family card to the service counter at your sub-district "
                             "office (kelurahan) to unblock it.")),
    "pin_format": Advice(_l("That PIN is too short"),
                         _l("Your PIN has 6 to 8 digits. Please enter it again.")),
    "tap_locked": Advice(_l("Your PIN is needed"),
                         _l("You have turned off tap use for this card. Please enter your "
                            "PIN.")),
    "card_suspended": Advice(_l("This card is on hold"),
                             _l("Please ask at the service counter why your card is on "
                                "hold.")),
    "card_revoked": Advice(_l("This card no longer works"),
                           _l("Please ask at the service counter for a new card.")),
    "card_superseded": Advice(_l("This card has been replaced"),
                              _l("Please use your newest card. If you have lost it, ask at "
                                 "the service counter.")),
    "card_unknown": Advice(_l("This card is not a city card"),
                           _l("Please use your SatuKartu card.")),
    "card_not_issued": Advice(_l("This card is not ready yet"),
                              _l("Please ask at the service counter to finish your card.")),
    "card_removed": Advice(_l("The card was taken out too soon"),
                           _l("Please insert your card again and leave it in until you are "
                              "done.")),
    "card_timeout": Advice(_l("The card did not answer"),
                           _l("Please take your card out and insert it again.")),
    "card_error": Advice(_l("The card could not be read"),
                         _l("Please take your card out and insert it again. If it happens "
                            "again, ask at the service counter.")),
    "reader_error": Advice(_l("The card reader has a problem"),
                           _l("Please ask the staff for help.")),
    "hub_unavailable": Advice(_l("The service is not reachable right now"),
                              _l("Please wait a moment and try again.")),
    "no_card": Advice(_l("No card in the reader"),
                      _l("Please insert your card.")),
    "session_ended": Advice(_l("Your visit has ended"),
                            _l("Please insert your card again.")),
    "insufficient_balance": Advice(_l("Not enough credit"),
                                   _l("The amount is more than the balance. Please enter a "
                                      "smaller amount.")),
    "amount_above_cap": Advice(_l("The amount is too large"),
                               _l("One sale may not be that large. Please enter a smaller "
                                  "amount.")),
    "amount_invalid": Advice(_l("The amount is not right"),
                             _l("Please enter an amount above zero.")),
    "credit_expired": Advice(_l("This month's credit has ended"),
                             _l("The credit is renewed at the start of the month.")),
    "category_not_allowed": Advice(_l("This item cannot be paid with this credit"),
                                   _l("Please choose another kind of goods.")),
    "daily_cap_exceeded": Advice(_l("Today's limit for this credit is reached"),
                                 _l("Please enter a smaller amount, or come back tomorrow.")),
    "monthly_cap_exceeded": Advice(_l("This month's limit for this credit is reached"),
                                   _l("Please enter a smaller amount, or come back next "
                                      "month.")),
    "agent_category_not_allowed": Advice(_l("This credit is not used at this shop"),
                                         _l("The service counter can say which shops "
                                            "take it.")),
    "not_eligible": Advice(_l("Not part of this programme"),
                           _l("Please ask at the service counter if you think this is "
                              "wrong.")),
    "duplicate_record": Advice(_l("This card's record is a second registration"),
                               _l("You are served under your first record. Please ask at "
                                  "the service counter.")),
    "invalid_credentials": Advice(_l("Wrong username or password"),
                                  _l("Please check them and try again.")),
    "rate_limited": Advice(_l("Too many tries"),
                           _l("Please wait a few minutes, then try again.")),
    "account_locked": Advice(_l("This account is locked"),
                             _l("Please ask your supervisor to unlock it.")),
    "account_disabled": Advice(_l("This account is turned off"),
                               _l("Please ask your supervisor.")),
    "already_settled": Advice(_l("This day is already closed"),
                              _l("Its takings were paid out already.")),
    "missing_username": Advice(_l("Enter your username"), _l("It is on your staff card.")),
    "missing_password": Advice(_l("Enter your password"), _l("Passwords are case-sensitive.")),
    "role_not_allowed": Advice(_l("This account cannot use this screen"),
                               _l("Agents sign in on the agent screen.")),
    "signed_out": Advice(_l("You have signed out"),
                         _l("Sign in again to carry on.")),
    # The agent's offline sale (the reader's bridge judges the card while the hub is out
    # of reach): these speak to the agent, who tells the card holder what to do.
    "offline_card_cap_exceeded": Advice(_l("This card's offline limit for today is reached"),
                                        _l("Enter a smaller amount, or ask the card holder "
                                           "to come back when the link is back.")),
    "offline_agent_cap_exceeded": Advice(_l("This shop's offline limit for today is reached"),
                                         _l("No more offline sales today. Ask card holders "
                                            "to come back when the link is back.")),
    "offline_not_ready": Advice(_l("This PC cannot check cards now"),
                                _l("Ask the card holder to come back when the link is "
                                   "back.")),
    "offline_not_allowed": Advice(_l("This credit cannot be used offline"),
                                  _l("Choose another credit, or serve the card holder when "
                                     "the link is back.")),
    "card_untrusted": Advice(_l("This card cannot be trusted"),
                             _l("It is not a card the city issued. Ask the card holder to "
                                "go to the service counter.")),
    "card_expired": Advice(_l("This card has expired"),
                           _l("Please ask at the service counter for a new card.")),
    "signature_invalid": Advice(_l("The card could not sign the sale"),
                                _l("Please take your card out and insert it again.")),
    "link_online": Advice(_l("The link is back"),
                          _l("Serve this card holder as usual.")),
    "grievance_subject_invalid": Advice(_l("This cannot be appealed here"),
                                        _l("Please ask at the service counter: a clerk "
                                           "can file your appeal.")),
    "timed_out": Advice(_l("You were signed out because you did nothing for 15 minutes"),
                        _l("Sign in again to carry on. Nothing you had sent was lost.")),
}


def advice(reason: str | None) -> Advice:
    return ADVICE.get(reason or "", GENERIC)


ENTRY_WORDS = {
    "grant": _l("Monthly credit"), "credit": _l("Credit"), "spend": _l("Purchase"),
    "withdrawal": _l("Cash withdrawal"), "fare": _l("Transit fare"),
    "expiry": _l("Credit ended"), "offline_spend": _l("Purchase while offline"),
}
ROLE_WORDS = {
    "admin": _l("City administrator"), "clerk": _l("Service counter clerk"),
    "agent": _l("Shop agent"), "auditor": _l("Auditor"), "kiosk": _l("Kiosk"),
    "counter": _l("Service counter"), "gate": _l("Transit gate"),
    "desk": _l("Enrolment desk"),
}


def entry_words(kind: str) -> str:
    return str(ENTRY_WORDS.get(kind, kind))


def role_words(role: str | None, reader: str) -> str:
    if role in ROLE_WORDS:
        return str(ROLE_WORDS[role])
    return str(_l("The city's system")) if reader == "system" else str(_l("Staff"))


CATEGORY_WORDS = {
    "rice": _l("Rice"), "eggs": _l("Eggs"), "protein": _l("Meat and fish"),
    "vegetables": _l("Vegetables"), "fruit": _l("Fruit"), "tubers": _l("Tubers"),
}


def category_words(category: str) -> str:
    return str(CATEGORY_WORDS.get(category, category))
