"""What every counter page shares: the clerk, the card in front of them, the counter the
clerk's browser is bound to, the purpose of the visit, and the read each page records.

The clerk signs in once (`/staff/sign-in`) and stays signed in across citizens. The
first card session handed over in that browser session binds the counter terminal it
came from to it; a card session from any other terminal is refused from then on, so a
clerk's screen only ever shows the citizen at their own reader. The visit (the card
session) ends when the card leaves; the purpose and the answers given so far belong
to that card session and go with it.

Every page that shows a citizen's personal data records a read in the audit log in
the page's own transaction. The reader is the clerk, at the counter's terminal, with
the purpose chosen for the visit (or the action's own): the citizen's "who saw my
data" at a kiosk shows the counter's name, the clerk's role and that purpose; the
auditor sees the clerk's username (the record's actor).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from flask import g, session, url_for
from flask_babel import lazy_gettext as _l

from admin.common import render, screen_blueprint
from admin.common.messages import Advice, advice
from admin.common.sessions import Gone, require_card
from admin.common.staff import require_staff
from backend.api.routing import parse_model
from backend.audit import record, record_read
from backend.audit.record import pending
from backend.auth.principal import Principal
from backend.db import session as db_session
from backend.services.perform import perform

blueprint = screen_blueprint("counter", __name__, "/counter")
SCREEN = "counter"
COUNTER = ("counter",)
CLERKS = ("clerk",)
BOUND_KEY = "counter_terminal"  # the counter terminal this browser session serves
VISIT_KEY = "counter_visit"  # {"card": card session id, "purpose": key, "answers": {...}}
READ_ACTION = "counter.citizen.read"


@dataclasses.dataclass(frozen=True)
class Purpose:
    audit: str  # what the audit log and the citizen's access log say (stable, English)
    label: Any  # what the clerk chooses from


# Why a clerk opens a citizen's record: one per action the counter offers, and the
# citizen's question. The first matching action is offered first on the record.
PURPOSES: dict[str, Purpose] = {
    "question": Purpose("answer the citizen's question at a service counter",
                        _l("Answer the citizen's question")),
    "clinic_visit": Purpose("register a clinic visit at a service counter",
                            _l("Register a clinic visit")),
    "payout": Purpose("pay out a stipend at a service counter", _l("Pay out a stipend")),
    "document": Purpose("issue a civil document at a service counter",
                        _l("Request a civil document")),
    "unblock": Purpose("unblock the card's PIN at a service counter",
                       _l("Unblock the PIN with the PUK")),
    "lost": Purpose("report the card lost at a service counter", _l("Report the card lost")),
    "replace": Purpose("request a replacement card at a service counter",
                       _l("Replace the card")),
    "appeal": Purpose("file the citizen's appeal at a service counter",
                      _l("File an appeal")),
}

# Refusals the counter meets that the shared table words for other screens.
COUNTER_ADVICE: dict[str, Advice] = {
    "not_covered": Advice(_l("The patient has no health coverage"),
                          _l("Ask them to register for health insurance (JKN) first.")),
    "rate_limited": Advice(_l("Today's documents are already issued"),
                           _l("A citizen can have a few documents a day. Ask them to come "
                              "back tomorrow.")),
    "validation_failed": Advice(_l("An answer is not right"),
                                _l("Check the answers and try again.")),
    "idempotency_key_reused": Advice(_l("This form was already sent with other answers"),
                                     _l("Start the action again from the citizen's page.")),
    "card_state_invalid": Advice(_l("The card is not active"),
                                 _l("It is already on hold or no longer works.")),
    "issuance_job_open": Advice(_l("A new card is already being made"),
                                _l("The citizen can collect it at the enrolment desk.")),
    "grievance_resolved": Advice(_l("This appeal is answered already"),
                                 _l("An answered appeal does not change. The citizen may "
                                    "appeal again.")),
    "grievance_not_assignee": Advice(_l("This appeal is not yours"),
                                     _l("Take it first, or ask the colleague it is given to.")),
    "grievance_assignee_invalid": Advice(_l("That person cannot take appeals"),
                                         _l("Choose a clerk or an administrator.")),
    "forbidden": Advice(_l("This is not allowed here"),
                        _l("Ask the citizen to insert their card and enter their PIN again.")),
}


def counter_advice(reason: str | None) -> Advice:
    return COUNTER_ADVICE.get(reason or "") or advice(reason)


def clerk() -> Principal:
    """The signed-in clerk (else the sign-in page, or 403 for another role)."""
    return require_staff(CLERKS)


def card(assurance: str | None = "pin") -> Principal:
    """The citizen's card session at this clerk's own counter, else back to the start."""
    clerk()
    principal = require_card(COUNTER, "counter.idle", assurance)
    if principal.terminal_id is None or principal.terminal_id != session.get(BOUND_KEY):
        raise Gone(url_for("counter.idle"))
    return principal


def clerk_at_counter(card_session: Principal) -> Principal:
    """The clerk as the audit log names them: their username and role, at the counter's
    terminal (so the citizen sees which office looked)."""
    return dataclasses.replace(clerk(), terminal_id=card_session.terminal_id)


# --- the visit ------------------------------------------------------------------------


def _visit(principal: Principal) -> dict[str, Any]:
    """This card session's visit (a new card starts a new one)."""
    assert principal.card is not None
    found = session.get(VISIT_KEY)
    if not isinstance(found, dict) or found.get("card") != principal.card.session_id:
        return {"card": principal.card.session_id, "purpose": None, "answers": {}}
    return found


def purpose_of(principal: Principal) -> str | None:
    return _visit(principal).get("purpose")


def choose_purpose(principal: Principal, key: str) -> None:
    visit = _visit(principal)
    visit["purpose"] = key
    session[VISIT_KEY] = visit


def require_purpose(principal: Principal) -> str:
    """The purpose chosen for this visit; none yet: the clerk chooses one first."""
    chosen = purpose_of(principal)
    if chosen not in PURPOSES:
        raise Gone(url_for("counter.purpose"))
    return str(chosen)


def answers(principal: Principal, form: str) -> dict[str, Any]:
    return dict(_visit(principal)["answers"].get(form) or {})


def remember(principal: Principal, form: str, **given: Any) -> None:
    visit = _visit(principal)
    visit["answers"] = {**visit["answers"], form: {**visit["answers"].get(form, {}),
                                                   **given}}
    session[VISIT_KEY] = visit


def finished(principal: Principal, key: str | None) -> str | None:
    """Where a form sent under `key` led, if it was sent already in this visit: a second
    submit of the same form goes there too (and the hub's idempotency key covers two
    submits in flight at once)."""
    done = _visit(principal).get("done") or {}
    return done.get(key) if key else None


def finish(principal: Principal, form: str, key: str | None, location: str) -> str:
    """The form is done: its answers go, where it led is kept for a second submit."""
    visit = _visit(principal)
    visit["answers"] = {k: v for k, v in visit["answers"].items() if k != form}
    if key:
        kept = list((visit.get("done") or {}).items())[-7:]
        visit["done"] = {**dict(kept), key: location}
    session[VISIT_KEY] = visit
    return location


def end() -> None:
    session.pop(VISIT_KEY, None)


# --- the audit ------------------------------------------------------------------------


def read(principal: Principal, purpose: str, fields: Iterable[str],
         subject_id: int | None = None) -> None:
    """Record that the clerk's page shows these fields of the card holder's data (or of
    a member of their household, `subject_id`), with the purpose."""
    assert principal.card is not None
    citizen_id = subject_id if subject_id is not None else principal.card.citizen_id
    record_read(db_session(), citizen_id, PURPOSES[purpose].audit, fields,
                action=READ_ACTION, principal=clerk_at_counter(principal))


def run(principal: Principal, purpose: str, programme: str, action: str, key: str | None,
        given: dict[str, Any]) -> dict[str, Any]:
    """One programme action on the citizen's PIN session, as the API runs it (`perform`:
    roles, eligibility, the idempotency key, the action's audit), and who served beside
    it. A replay of the same key answers the first result and is not served again."""
    before = len(pending(db_session()))
    answer, _status = perform(principal, programme, action, key or None,
                              lambda declared: parse_model(declared.input, given))
    if len(pending(db_session())) > before:  # the action ran now: it wrote its record
        served(principal, purpose, f"{programme}.{action}",
               **{k: answer[k] for k in ("entry_id", "amount") if k in answer})
    return answer


def served(principal: Principal, purpose: str, what: str, **details: Any) -> None:
    """Who served: the clerk beside the action the card session ran (as an agent's
    sale is), so the log ties a pay-out or a document to a person, not just a counter."""
    assert principal.card is not None
    record(db_session(), action="counter.served", subject_type="citizen",
           subject_id=str(principal.card.citizen_id), citizen_id=principal.card.citizen_id,
           principal=clerk_at_counter(principal), purpose=PURPOSES[purpose].audit,
           details={"what": what, "terminal": principal.terminal_id, **details})


# --- pages ------------------------------------------------------------------------------


def page(template: str, **context: Any) -> str:
    """A counter page: the staff layout with what the reader script needs."""
    context.setdefault("needs_card", g.get("principal") is not None)
    context.setdefault("errors", [])
    return render(template, SCREEN, accept=context.pop("accept", "pin"), **context)
