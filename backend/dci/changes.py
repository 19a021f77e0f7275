"""Registry changes, caught where they are written, become notifications after commit.

Every change to the registry writes its history rows (`backend.registry.history.record`,
one Core INSERT into `registry_changes`, in the change's own transaction). Listening
for that INSERT on the session catches every change the service, the API, the CLI and
the screens make, without the registry knowing of SPDCI. When the transaction commits,
and only if some subscription is live, one `dci.notify` task is queued with the people
and family cards changed; a rollback sends nothing.

The bulk importer writes on a Connection, not a Session, and is not caught: a city
that imports in bulk tells its peers by their next search (MAPPING.md, "Limits").
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import ORMExecuteState, Session

from backend.dci.models import DciSubscription
from backend.registry.models import RegistryChange

log = logging.getLogger(__name__)
KEY = "dci.changed"
_TABLE = RegistryChange.__tablename__
_installed = False


def install() -> None:
    """Listen on every Session, once per process."""
    global _installed
    if _installed:
        return
    event.listen(Session, "do_orm_execute", _seen)
    event.listen(Session, "before_commit", _before_commit)
    event.listen(Session, "after_commit", _after_commit)
    event.listen(Session, "after_rollback", _forget)
    _installed = True


def _seen(state: ORMExecuteState) -> None:
    # An ORM insert's table is an annotated copy of the model's: compared by name.
    table = getattr(state.statement, "table", None)
    if not state.is_insert or getattr(table, "name", None) != _TABLE:
        return
    given: Any = state.parameters
    rows = given if isinstance(given, list) else [given or {}]
    changed = state.session.info.setdefault(KEY, {"citizens": set(), "households": set(),
                                                   "member_added": False})
    for row in rows:
        if row.get("citizen_id") is not None:
            changed["citizens"].add(int(row["citizen_id"]))
        if row.get("entity") == "household":
            changed["households"].add(int(row["entity_id"]))
            changed["member_added"] |= row.get("action") == "member_add"


def _before_commit(sess: Session) -> None:
    """Keep the changes only if someone listens (one indexed read, at commit)."""
    if KEY not in sess.info or sess.get_nested_transaction() is not None:
        return
    live = sess.execute(select(DciSubscription.code).where(
        DciSubscription.status == "subscribe").limit(1)).first()
    if live is None:
        sess.info.pop(KEY, None)


def _after_commit(sess: Session) -> None:
    changed: dict[str, Any] | None = sess.info.pop(KEY, None)
    if not changed:
        return
    from backend.dci.tasks import notify

    event_type = "NewHouseHoldMember" if changed["member_added"] else "REGISTER"
    try:
        notify.apply_async(args=(sorted(changed["citizens"]), sorted(changed["households"]),
                                 event_type))
    except Exception:  # the change is committed: a broker outage must not fail its request
        log.warning("registry change not queued for SPDCI notification", exc_info=True)


def _forget(sess: Session) -> None:
    if sess.get_nested_transaction() is None:
        sess.info.pop(KEY, None)
