"""PostgreSQL restarted under a stream of redemptions through a live hub.

Agent-shop clients redeem food credit over HTTP, each redemption under its own
Idempotency-Key, retrying a key until the hub answers 200. The private cluster under
the hub is shut down twice in the middle of the stream, once as a crash (immediate:
recovery from the WAL) and once cleanly (fast: sessions rolled back). Every request
must have either succeeded once or been refused with a reason a client retries on;
every key must have exactly one effect in the ledger and in the audit log; the
ledger's invariants and the audit chain must hold.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import text

from backend import migrations
from backend.audit.sequencer import settle
from backend.db import make_engine
from tests.reliability.faults.invariants import audit_verify, ledger_problems
from tests.reliability.faults.livehub import (
    PATH_REDEEM,
    basket,
    food_household,
    init_card_ca,
    pin_session,
    reason_of,
    register_terminal,
    serve,
    soft_card_for,
)
from tests.support.private_services import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

CLIENTS = 4
KEYS_PER_CLIENT = 30
CREDIT = 50_000_000
RETRYABLE = {(503, "service_unavailable")}


@dataclass
class Call:
    """One redemption the client wants done once, and everything the hub said to it."""

    key: str
    amount: int
    token: str
    household_id: int
    answer: dict[str, Any] | None = None
    failures: list[tuple[Any, Any]] = field(default_factory=list)


class RedemptionStream:
    """A client thread per card session, each sending its calls in turn and retrying a
    call, with the same key and body, for as long as the hub's refusal is retryable."""

    def __init__(self, url: str, calls: list[list[Call]], give_up_after: float) -> None:
        self.url = url
        self.calls = calls
        self.deadline = time.monotonic() + give_up_after
        self.done = 0
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client, args=(mine,), daemon=True)
                         for mine in calls]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def join(self) -> None:
        for thread in self._threads:
            thread.join(max(1.0, self.deadline - time.monotonic() + 5))

    def _client(self, calls: list[Call]) -> None:
        http = requests.Session()
        for call in calls:
            while call.answer is None and time.monotonic() < self.deadline:
                if not self._attempt(http, call):
                    break
                time.sleep(0.05)
        http.close()

    def _attempt(self, http: requests.Session, call: Call) -> bool:
        """One request; False when the answer leaves nothing to retry."""
        try:
            answer = http.post(self.url + PATH_REDEEM, json=basket(call.amount), timeout=30,
                               headers={"Authorization": f"Bearer {call.token}",
                                        "Idempotency-Key": call.key})
        except requests.RequestException as exc:
            call.failures.append(("no answer", type(exc).__name__))
            return True
        if answer.status_code == 200:
            call.answer = answer.json()
            with self._lock:
                self.done += 1
            return False
        call.failures.append((answer.status_code, reason_of(answer)))
        return (answer.status_code, reason_of(answer)) in RETRYABLE


def _set_up(hub: Any) -> list[list[Call]]:
    issuing = init_card_ca(hub.app)
    shop = register_terminal(hub.app, "agent")
    streams = []
    for client in range(CLIENTS):
        head, family = food_household(hub.app, CREDIT)
        token = pin_session(hub.app, shop, soft_card_for(hub.app, issuing, head))
        streams.append([Call(f"restart-{client}-{n:03d}", 1_000 + 10 * n + client, token,
                             family.id) for n in range(KEYS_PER_CLIENT)])
    return streams


def _ledger_rows(url: str) -> dict[str, Any]:
    engine = make_engine(url)
    try:
        settle(engine)  # chain what the hub's sequencers have not yet, as readers do
        with engine.connect() as conn:
            spends = conn.execute(text(
                "SELECT id, amount, details FROM journal_entries WHERE kind = 'spend' "
                "AND programme = 'food'")).all()
            keys = conn.execute(text(
                "SELECT key, status, response FROM ledger_idempotency_keys")).all()
            audited = conn.execute(text(
                "SELECT count(*) FROM audit_records WHERE action = 'service.food.redeem' "
                "AND outcome = 'ok'")).scalar_one()
            balances = dict(conn.execute(text(
                "SELECT owner_ref, balance FROM ledger_accounts WHERE programme = 'food' "
                "AND owner_type = 'household'")).all())
    finally:
        engine.dispose()
    return {"spends": spends, "keys": keys, "audited": audited, "balances": balances}


@pytest.mark.timeout(240)
def test_a_postgresql_restart_mid_stream_leaves_one_effect_per_idempotency_key(
        private_postgres, tmp_path: Path):
    url = private_postgres.create_database("satukartu")
    migrations.upgrade(url)
    instance = tmp_path / "instance"
    hub = serve(url, instance)
    try:
        calls = _set_up(hub)
        stream = RedemptionStream(hub.url, calls, give_up_after=150)
        stream.start()
        wait_until(lambda: stream.done >= 20, 60, "20 redemptions before the crash")
        private_postgres.restart("immediate")
        wait_until(lambda: stream.done >= 60, 60, "60 redemptions before the clean restart")
        private_postgres.restart("fast")
        stream.join()
        every = [call for mine in calls for call in mine]

        # Every request either succeeded or was refused with a reason a client retries on.
        failures = Counter(f for call in every for f in call.failures)
        assert set(failures) <= RETRYABLE, failures
        assert sum(failures.values()) > 0, "the restarts did not meet a single request"
        assert [c.key for c in every if c.answer is None] == []

        # A replay with the same key gives the first answer and no second effect.
        for call in every:
            if call.failures or call.key.endswith("7"):
                again = hub.http.post(hub.url + PATH_REDEEM, json=basket(call.amount),
                                      timeout=30, headers={
                                          "Authorization": f"Bearer {call.token}",
                                          "Idempotency-Key": call.key})
                assert (again.status_code, again.json()) == (200, call.answer)
    finally:
        hub.close()

    # Exactly one effect per key: one spend entry, one stored answer, one audit record.
    rows = _ledger_rows(url)
    spent = {row.id: row.amount for row in rows["spends"]}
    answered = {call.answer["entry_id"]: call.amount for call in every}
    assert spent == answered
    assert len(answered) == len(every) == CLIENTS * KEYS_PER_CLIENT
    stored = {row.key: (row.status, row.response["entry_id"]) for row in rows["keys"]}
    assert stored == {call.key: (200, call.answer["entry_id"]) for call in every}
    assert rows["audited"] == len(every)
    expected = Counter()
    for call in every:
        expected[str(call.household_id)] += call.amount
    assert rows["balances"] == {ref: CREDIT - paid for ref, paid in expected.items()}

    # No partial transaction anywhere: the ledger's and the audit log's own checks.
    assert ledger_problems(url) == {}
    report = audit_verify(url, instance)
    assert (report["exit_code"], report.get("intact")) == (0, True), report
    assert private_postgres.restarts == 2
    print(f"{len(every)} keys, {sum(failures.values())} retried answers {dict(failures)}, "
          f"{report['records']} audit records intact")
