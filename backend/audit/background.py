"""PostgreSQL: the chain is extended off the request path, by one thread per process.

A writer's COMMIT carries its records into `audit_queue` (atcommit.py) and returns.
It used to try the sequencer in the same round trip; that try ran a transaction of
its own (the chain's lock, the head read, the chain's inserts, a second WAL flush)
and cost a winning writer about as much database CPU as the rest of its request, and
a losing one a wasted call (BENCHMARKS.md, "Card authentication"). Now the commit
nudges this process's sequencer, which waits `GATHER` seconds so that other requests'
commits join the batch, then chains everything queued in one transaction.

If another process holds the chain's lock, the thread tries again: a record committed
while the holder was finishing its last batch is taken by our next try, so nothing
stays queued longer than a few tries. Readers still `settle()` first, so what they
read is never behind. The thread keeps only a weak reference to its engine and ends
after `IDLE` seconds without a nudge, so an engine that is disposed of (a test's, a
task's) takes its thread with it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from dataclasses import dataclass, field

from flask import Flask, current_app, has_app_context
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from backend.audit.sequencer import TRY_SEQUENCE
from backend.db import autocommitted

log = logging.getLogger(__name__)

# Seconds a nudge waits for other commits to join its batch. Each call costs the
# database ~0.5 ms of CPU before its first record (the lock, the head, a commit's
# flush) and the hub's thread a round trip: at 0.05 s, two processes made about one
# call per four card authentications, and 0.2 s took 14 % off the database's CPU per
# authentication and 9 % off the hub's (bench/bench_auth.py, alternated runs). Nobody
# waits on the lag: every reader of the chain settles it first.
GATHER = 0.2
# Seconds before trying again when another process holds the lock. The holder chains
# what was queued before its last batch began; a later record waits for this try.
RETRY = GATHER
IDLE = 5.0  # seconds without a nudge after which the thread ends

_TRY = text(TRY_SEQUENCE)
_lock = threading.Lock()
_threads: dict[tuple[int, int], _Sequencer] = {}


@dataclass
class _Sequencer:
    engine: weakref.ref[Engine]
    app: Flask | None
    key: tuple[int, int]
    wake: threading.Event = field(default_factory=threading.Event)
    alive: bool = True

    def run(self) -> None:
        try:
            while self.wanted():
                time.sleep(GATHER)
                self.wake.clear()
                pause = self.sequence()
                if pause is not None:
                    time.sleep(pause)
                    self.wake.set()
        finally:
            self.retire()

    def wanted(self) -> bool:
        """Wait for a nudge; False (and retired) after IDLE seconds without one."""
        if self.wake.wait(IDLE):
            return True
        with _lock:  # a nudge sets `wake` under this lock: none is lost in between
            if self.wake.is_set():
                return True
            self._forget()
            return False

    def retire(self) -> None:
        with _lock:
            self._forget()

    def _forget(self) -> None:
        self.alive = False
        if _threads.get(self.key) is self:
            del _threads[self.key]

    def sequence(self) -> float | None:
        """One try: None when it is done, else how long to wait before the next."""
        engine = self.engine()
        if engine is None:
            self.wake.clear()
            return None
        try:  # one round trip: the function's transaction is the statement's own
            with engine.connect() as conn, autocommitted(conn):
                first, last = conn.execute(_TRY).one()
        except DBAPIError as exc:
            # The next commit's nudge, or the next reader's settle(), takes them.
            log.warning("audit records stay queued for now: %s", exc.orig or exc)
            return None
        if first is None:
            return RETRY  # another process holds the lock: its last batch may miss ours
        if first <= last:
            self.checkpoint(first, last)
        return None

    def checkpoint(self, first: int, last: int) -> None:
        from backend.audit.tasks import checkpoint_if_due

        if self.app is None:
            return
        with self.app.app_context():
            checkpoint_if_due(None, first, last)


def nudge(engine: Engine) -> None:
    """Ask this process's sequencer for `engine` to chain what is queued, soon."""
    key = (os.getpid(), id(engine))
    with _lock:
        sequencer = _threads.get(key)
        if sequencer is None or not sequencer.alive or sequencer.engine() is not engine:
            app = current_app._get_current_object() if has_app_context() else None  # type: ignore[attr-defined]
            sequencer = _threads[key] = _Sequencer(weakref.ref(engine), app, key)
            threading.Thread(target=sequencer.run, name="audit-sequencer",
                             daemon=True).start()
        sequencer.wake.set()
