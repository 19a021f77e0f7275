"""The modules as they are now in this process: the configuration, and admins' changes on top.

Each hub process (a gunicorn worker, a Celery worker, a CLI run) keeps one `Snapshot`:
the enabled modules, each configured with the city's parameters and the database's
overrides. It trusts that snapshot for `refresh` seconds (SATUKARTU_PROGRAMME_REFRESH_MS),
then reads `programme_epoch`, one primary-key row: only when its number moved does it
read `programme_settings` and rebuild, and only the modules whose row changed. A
request sees one snapshot from start to end, however long it runs; the process
that made a change sees it from its next request on.

An override the module no longer accepts (a parameter renamed by an upgrade, a value
a newer version refuses) is logged and left out, never fatal: the module runs on the
city's configuration for that parameter, and `describe()` says what was left out and
why.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flask import has_request_context, request
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from backend.programmes.models import EPOCH_ROW, ProgrammeEpoch, ProgrammeSetting

if TYPE_CHECKING:
    from backend.services import ServiceModule
    from backend.services.catalogue import Catalogue

log = logging.getLogger(__name__)
REQUEST_KEY = "satukartu.programmes.snapshot"
CHANGING = "satukartu.programmes.changing"
LISTENING = "satukartu.programmes.listening"


@dataclass(frozen=True)
class Stored:
    """One `programme_settings` row as read (the JSON exactly as found)."""

    key: str
    enabled: bool | None
    parameters: Any
    version: int
    updated_by: str | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class ProgrammeState:
    """One installed module as this snapshot runs it."""

    key: str
    module: ServiceModule | None  # None: it cannot run (`problem` says why)
    enabled: bool  # runs now: wanted enabled, and it could be built
    wanted: bool  # enabled by the database's override, else by SATUKARTU_SERVICES
    enabled_source: str  # "database" | "config"
    overrides: Mapping[str, str]  # the database's parameters in effect
    ignored: Mapping[str, str]  # stored parameters left out -> why
    stored: Stored | None
    problem: str | None = None


@dataclass(frozen=True)
class Snapshot:
    epoch: int | None  # None: built from the configuration only, never checked
    states: Mapping[str, ProgrammeState]
    modules: dict[str, ServiceModule] = field(default_factory=dict)


def check_overrides(catalogue: Catalogue, key: str, stored: Any
                    ) -> tuple[dict[str, str], dict[str, str]]:
    """The stored parameters the module accepts one by one, and those it does not (why)."""
    if not stored:
        return {}, {}
    if not isinstance(stored, Mapping):
        return {}, {"*": f"stored parameters are not a table of names: {stored!r:.80}"}
    module = catalogue.base.get(key)
    declared = module.params if module is not None else {}
    good, ignored = {}, {}
    for name, raw in stored.items():
        if name not in declared:
            ignored[name] = "the module has no such parameter"
            continue
        if not isinstance(raw, str):
            ignored[name] = f"stored value is not text: {raw!r:.80}"
            continue
        try:
            declared[name].parse(raw)
        except Exception as exc:  # a module's parser, whatever it raises, must not stop the hub
            ignored[name] = f"the module refuses {raw!r:.80}: {exc}"
            continue
        good[name] = raw
    return good, ignored


def state_of(catalogue: Catalogue, key: str, stored: Stored | None) -> ProgrammeState:
    """How `key` runs with the stored row `stored` (None: as configured)."""
    by_db = stored is not None and stored.enabled is not None
    wanted = bool(stored.enabled) if by_db else key in catalogue.enabled  # type: ignore[union-attr]
    source = "database" if by_db else "config"
    problem = catalogue.problems.get(key)
    if problem is not None:
        return ProgrammeState(key, None, False, wanted, source, {}, {}, stored, problem)
    overrides, ignored = check_overrides(catalogue, key, stored.parameters if stored else {})
    try:
        module = catalogue.build(key, overrides)
    except Exception as exc:  # accepted one by one, refused together: run as configured
        ignored.update({name: f"the module refuses these values together: {exc}"
                        for name in overrides})
        overrides, module = {}, catalogue.base[key]
    return ProgrammeState(key, module, wanted, wanted, source, overrides, ignored, stored)


def overlay(catalogue: Catalogue, rows: Iterable[Stored], epoch: int | None,
            previous: Snapshot | None = None) -> Snapshot:
    """The snapshot for these rows; a module whose row did not change is kept as it was."""
    by_key = {row.key: row for row in rows}
    states = {}
    for key in catalogue.installed:
        row = by_key.get(key)
        old = previous.states.get(key) if previous is not None else None
        if old is not None and _same_row(old.stored, row):
            states[key] = old
        else:
            states[key] = state_of(catalogue, key, row)
            if states[key].ignored:
                log.warning("programme %s: stored parameters left out, running on the "
                            "configured values: %s", key, dict(states[key].ignored))
    strays = sorted(set(by_key) - set(states))
    if strays:
        log.warning("programme settings for modules not installed, left out: %s", strays)
    order = [*catalogue.enabled, *sorted(set(states) - set(catalogue.enabled))]
    running = {key: states[key].module for key in order
               if states[key].enabled and states[key].module is not None}
    return Snapshot(epoch, states, running)  # type: ignore[arg-type]


def _same_row(old: Stored | None, new: Stored | None) -> bool:
    if old is None or new is None:
        return old is new
    return (old.version, old.enabled, old.parameters) == (new.version, new.enabled,
                                                          new.parameters)


# reading the database ------------------------------------------------------------------
EPOCH_QUERY = select(ProgrammeEpoch.epoch).where(ProgrammeEpoch.id == EPOCH_ROW)
ROWS_QUERY = select(ProgrammeSetting.key, ProgrammeSetting.enabled, ProgrammeSetting.parameters,
                    ProgrammeSetting.version, ProgrammeSetting.updated_by,
                    ProgrammeSetting.updated_at)


def read_epoch() -> int:
    """The change counter: one primary-key read, on the request's own connection before
    its transaction begins (no BEGIN, no COMMIT), or inside it once it has."""
    from backend.db import read_row

    row = read_row(EPOCH_QUERY, {})
    return int(row[0]) if row is not None else 0


def read_stored(sess: Any = None) -> list[Stored]:
    """Every settings row: in `sess` if given, else in the request's transaction if it
    has begun, else on a connection of its own (so nothing is left open)."""
    from flask import g

    from backend.db import database, session

    if sess is not None:
        return [Stored(*row) for row in sess.execute(ROWS_QUERY)]
    db = database()
    if "db_session" in g or not db.reads_outside_transactions:
        return [Stored(*row) for row in session().execute(ROWS_QUERY)]
    with db.engine.connect() as conn:
        return [Stored(*row) for row in conn.execute(ROWS_QUERY)]


def mark_changing(sess: Session, programmes: LiveProgrammes) -> None:
    """`sess` changes programme settings: until it ends, this process builds nothing from
    what it reads there (it may yet roll back), and once it commits, the process checks
    the database at its next use instead of up to `refresh` seconds later."""
    sess.info[CHANGING] = True
    if sess.info.get(LISTENING):
        return
    sess.info[LISTENING] = True

    def committed(ended: Session) -> None:
        ended.info.pop(CHANGING, None)
        programmes.expire()

    def rolled_back(ended: Session, transaction: Any) -> None:
        if transaction.parent is None:  # the whole transaction, not a savepoint in it
            ended.info.pop(CHANGING, None)

    event.listen(sess, "after_commit", committed)
    event.listen(sess, "after_soft_rollback", rolled_back)


def _changing_here() -> bool:
    from flask import g

    sess = g.get("db_session")
    return sess is not None and bool(sess.info.get(CHANGING))


class LiveProgrammes:
    """This process's programmes; kept in `app.extensions` by `backend.services.catalogue`."""

    def __init__(self, catalogue: Catalogue, refresh: float) -> None:
        self.catalogue = catalogue
        self.refresh = max(0.0, refresh)
        self._snapshot = overlay(catalogue, (), None)
        self._checked_at = -math.inf
        self._lock = threading.Lock()

    def modules(self) -> dict[str, ServiceModule]:
        return self.snapshot().modules

    def snapshot(self) -> Snapshot:
        """The snapshot for now: the request's own if it has one, else checked against
        the database if `refresh` seconds have passed since the last check."""
        if not has_request_context():
            return self._current()
        kept = request.environ.get(REQUEST_KEY)
        if kept is None:
            kept = request.environ[REQUEST_KEY] = self._current()
        return kept

    def expire(self) -> None:
        """Check the database at the next use (this process has just changed it)."""
        self._checked_at = -math.inf

    def _current(self) -> Snapshot:
        now = time.monotonic()
        if now - self._checked_at < self.refresh or _changing_here():
            return self._snapshot
        epoch = read_epoch()
        if epoch != self._snapshot.epoch:
            with self._lock:
                if epoch != self._snapshot.epoch:
                    self._snapshot = overlay(self.catalogue, read_stored(), epoch,
                                             self._snapshot)
        self._checked_at = now
        return self._snapshot
