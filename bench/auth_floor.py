"""The floor of a card authentication: each part it cannot avoid, measured alone.

`bench_auth.py` compares the hub's CPU per authentication with the sum of these,
measured in the same run: one ECDSA P-256 verify, one cached chain check, one
indexed read, one nonce and audit write with its commit, one session token.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from proc_cpu import cpu_seconds

from card_reader import wire

ECDSA = ec.ECDSA(Prehashed(hashes.SHA256()))


def cpu_per_call(fn, number: int, backend_pid: int | None = None, batches: int = 3) -> float:
    """CPU seconds per call: this process's, plus the database backend's when it has one.

    CPU rather than wall time, so that waiting (for the disk, for a core the rest of a
    shared machine is using) does not count as a cost of the part; and the cheapest of
    a few batches, so that a burst of someone else's load does not inflate the floor
    (a floor too high would flatter the ratio).
    """
    best = None
    for _ in range(batches):
        before = time.process_time(), cpu_seconds([backend_pid] if backend_pid else [])
        for _ in range(number):
            fn()
        after = time.process_time(), cpu_seconds([backend_pid] if backend_pid else [])
        spent = ((after[0] - before[0]) + (after[1] - before[1])) / number
        best = spent if best is None else min(best, spent)
    return best


def measure_parts(db_url: str, instance: Path) -> dict[str, float]:
    from sqlalchemy import insert, select, text
    from sqlalchemy.orm import Session

    from backend.app import create_app
    from backend.audit import record
    from backend.cards.chain import TrustStore
    from backend.cards.context import state
    from backend.cards.models import Card
    from backend.cards.store import challenges, digest
    from backend.db import database
    from backend.testing.cards import make_soft_card

    app = create_app(DATABASE_URL=db_url, INSTANCE_DIR=str(instance), LOG_LEVEL="WARNING")
    parts = {}
    card = make_soft_card(state(app).issuing_ca(), "9000000000000000", None)
    der = card.der("9E")
    nonce = secrets.token_bytes(32)
    signature = card.sign("9E", "https://hub", nonce)
    public = card.keys["9E"].public_key()
    message = wire.signed_digest("https://hub", nonce)
    parts["ECDSA P-256 verify"] = cpu_per_call(
        lambda: public.verify(signature, message, ECDSA), 3000)
    store = TrustStore.from_directory(app.config["CA_DIR"])
    store.inspect(der)
    parts["chain check, cached by hash"] = cpu_per_call(lambda: store.inspect(der), 30000)
    with app.app_context():
        engine = database().engine
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
            uuid_ = conn.execute(select(Card.card_uuid).limit(1)).scalar()
            stmt = select(Card.id, Card.serial, Card.status).where(Card.card_uuid == uuid_)
            parts["indexed read (card by UUID)"] = cpu_per_call(
                lambda: conn.execute(stmt).first(), 3000, pid)
            conn.rollback()

            def nonce_and_audit() -> None:
                # The hub's own path: a session on the request's connection, the record
                # queued on it and written by the audit module at its commit.
                with Session(bind=conn) as sess, sess.begin():
                    sess.execute(insert(challenges).values(
                        nonce_hash=digest(secrets.token_bytes(32)), terminal_id="bench",
                        expires_at=dt.datetime.now(dt.UTC)))
                    record(sess, action="bench.write", subject_type="card", subject_id="x")

            parts["nonce + audit write, one commit"] = cpu_per_call(nonce_and_audit, 500, pid)
    parts["session token (random + hash)"] = cpu_per_call(
        lambda: digest(("sks_" + secrets.token_urlsafe(32)).encode()), 30000)
    engine.dispose()
    return parts
