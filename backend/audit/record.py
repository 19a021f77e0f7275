"""`record()`: the one audit call the hub makes, in the caller's own transaction.

A record is kept on the caller's session and written just before that session
commits, so it lands in the same transaction as the change it describes: both commit
or neither does. On PostgreSQL it goes into the queue with the COMMIT itself
(atcommit.py) and the sequencer chains it; otherwise it is chained here
(backend.audit.append) under the chain's lock. Writing at commit rather than at the
call means a transaction never waits for the chain while holding other rows, so
audited transactions cannot deadlock on it. A savepoint or transaction rolled back
takes its kept records with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import has_app_context, has_request_context
from sqlalchemy import Connection, event
from sqlalchemy.orm import Session, SessionTransaction

from backend.audit.append import append
from backend.audit.atcommit import stash
from backend.audit.chain import clean_text, details_digest, details_json
from backend.auth.principal import Principal, current_principal

PENDING = "satukartu.audit.pending"
READ_ACTION = "citizen.data.read"


def record(session: Session | Connection, *, action: str, subject_type: str | None = None,
           subject_id: str | None = None, outcome: str = "ok", purpose: str | None = None,
           details: dict[str, Any] | None = None, principal: Principal | None = None,
           citizen_id: int | None = None) -> None:
    """Append an audit record in the same transaction as the caller's change.

    `principal` defaults to the request's; `citizen_id` names whose data this is (a
    card session's holder when not given). With a Session the record is chained when
    it commits; with a Connection it is chained now, under the chain's lock.
    """
    if principal is None and has_app_context():
        principal = current_principal()
    entry = make_entry(principal, action=action, subject_type=subject_type,
                       subject_id=subject_id, outcome=outcome, purpose=purpose,
                       details=details, citizen_id=citizen_id)
    if isinstance(session, Connection):
        append(session, [entry])
        return
    scope = session.get_nested_transaction() or session.get_transaction()
    if scope is None:
        session.connection()  # begin the session's transaction, as any query would
        scope = session.get_transaction()
    session.info.setdefault(PENDING, []).append((scope, entry))


def record_read(session: Session | Connection, citizen_id: int, purpose: str | None,
                fields: Iterable[str], *, action: str = READ_ACTION,
                subject_type: str | None = "citizen", subject_id: str | None = None,
                principal: Principal | None = None) -> None:
    """Record a read of a citizen's personal data; it shows in their access log.

    Actions that read personal data end in `.read`; the access log lists those.
    """
    if not action.endswith(".read"):
        raise ValueError("a read's action ends in '.read'")
    record(session, action=action, subject_type=subject_type,
           subject_id=subject_id if subject_id is not None else str(citizen_id),
           purpose=purpose, details={"fields": sorted(set(fields))}, principal=principal,
           citizen_id=citizen_id)


def make_entry(principal: Principal | None, *, action: str, subject_type: str | None,
               subject_id: str | None, outcome: str, purpose: str | None,
               details: dict[str, Any] | None, citizen_id: int | None) -> dict[str, Any]:
    """The record's fields, before the chain gives it a number, a time and hashes."""
    actor_kind, actor, role, terminal_id = _actor(principal)
    if citizen_id is None and principal is not None and principal.card is not None:
        citizen_id = principal.card.citizen_id
    text = details_json(details)
    return {
        "actor_kind": actor_kind, "actor": clean_text(actor), "role": clean_text(role),
        "terminal_id": clean_text(terminal_id), "action": clean_text(action) or "unknown",
        "subject_type": clean_text(subject_type), "subject_id": clean_text(subject_id),
        "citizen_id": int(citizen_id) if citizen_id is not None else None,
        "purpose": clean_text(purpose), "outcome": clean_text(outcome) or "ok",
        "details": text, "details_digest": details_digest(text),
    }


def _actor(principal: Principal | None) -> tuple[str, str | None, str | None, str | None]:
    if principal is None:
        return ("anonymous" if has_request_context() else "system"), None, None, None
    if principal.kind == "card" and principal.card is not None:
        card = principal.card
        return "card", card.card_serial, principal.role, principal.terminal_id or card.terminal_id
    if principal.kind == "terminal":
        return "terminal", principal.subject, principal.role, (principal.terminal_id
                                                                or principal.subject)
    return principal.kind, principal.subject, principal.role, principal.terminal_id


def pending(session: Session) -> list[dict[str, Any]]:
    """Records queued on `session` that its next commit will chain."""
    return [entry for _scope, entry in session.info.get(PENDING, ())]


@event.listens_for(Session, "before_commit")
def _chain_pending(session: Session) -> None:
    queued = session.info.get(PENDING)
    if not queued or session.get_nested_transaction() is not None:
        return  # nothing queued, or only a savepoint is committing
    entries = [entry for _scope, entry in queued]
    queued.clear()
    session.flush()  # the caller's own writes go before the chain's lock is taken
    conn = session.connection()
    if stash(conn, entries):
        return  # PostgreSQL: appended in the same round trip as the COMMIT
    first, last = append(conn, entries)
    from backend.audit.tasks import checkpoint_if_due

    checkpoint_if_due(session, first, last)


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    queued = session.info.get(PENDING)
    if queued:
        queued[:] = [(scope, entry) for scope, entry in queued
                     if not _within(scope, previous_transaction)]


@event.listens_for(Session, "after_transaction_end")
def _drop_on_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the whole transaction is over: nothing may linger
        session.info.pop(PENDING, None)


def _within(scope: SessionTransaction | None, ended: SessionTransaction) -> bool:
    while scope is not None:
        if scope is ended:
            return True
        scope = scope.parent
    return False
