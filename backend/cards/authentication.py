"""Card authentication after Web eID: a challenge for a terminal, a signed token back.

The token is judged in the order DESIGN.md promises, each failure with its own
reason: shape and size (`tokens.py`); the nonce (known, unexpired, unused, this
terminal's); the certificate (trusted issuer, validity, usage and policy for its
key); the card's status, and for the tap key the holder's tap lock (`taplock.py`); the
signature. Then a session opens with the key's assurance.

This is the hub's hottest path, written for it:
- a challenge costs no database write: the nonce proves itself (`nonces.py`);
- the certificate verdict is cached by the certificate's hash (`chain.py`);
- on PostgreSQL one statement spends the nonce, reads the card and opens the session
  (a data-modifying CTE: one round trip instead of three); the checks then run in
  their promised order on its result, and any refusal rolls the whole of it back;
- the card's status and its tap lock are read in the authentication's own
  transaction, by the same statement. The row is not locked: a revocation or a tap lock
  committing meanwhile ends the card's sessions (a lock: its tap sessions), and the
  session lookup (`sessions.py`) reads both on every request, so a session opened in
  that instant is refused on first use;
- as served on PostgreSQL, that statement also queues the token's audit record
  (`card.auth`, into `audit_queue`, as `backend.audit.atcommit` would at COMMIT) and
  runs alone in autocommit (`authenticate_alone`): the whole token is one round trip
  and one transaction, with no BEGIN and no COMMIT of its own. The certificate and the
  signature are judged before it, in Python, and it opens the session and queues the
  record only if both passed; the nonce is spent whatever follows, as promised, and
  the refusals are still raised in their promised order from its result;
- that transaction commits without waiting for its WAL to reach the disk
  (`synchronous_commit = off` for it alone): the flush was a fifth of the database's CPU
  per authentication (BENCHMARKS.md, "The token's commit"). What a crash of the
  database can then lose is its last fraction of a second of authentications, each
  whole (the spent nonce, the session and its `card.auth` record, together), and
  only those that nothing durable followed: any later commit that waits, a
  redemption's or a read's audit record, flushes the WAL before it, the token's
  included. A lost spent nonce must not be usable again, so nonces are bound to the
  server's run (`Database.server_run`, migration 0026, `CardsState.nonce_key`) and the
  statement spends one only while the server is still in that run: after a crash
  recovery or a failover every earlier nonce is refused. Never run it inside a psycopg
  pipeline: in autocommit the statements of one pipeline share a transaction, and
  this one's setting with it;
- Core statements throughout (`bench/bench_auth.py` measures the whole).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from sqlalchemy import (
    BigInteger,
    Boolean,
    Integer,
    LargeBinary,
    Text,
    bindparam,
    cast,
    column,
    func,
    insert,
    literal_column,
    select,
    table,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from backend.audit.background import nudge
from backend.audit.chain import clean_text
from backend.audit.record import make_entry
from backend.audit.sequencer import QUEUE_TABLE, engine_queues
from backend.auth.principal import Principal
from backend.cards import nonces
from backend.cards.chain import CardCertificate, CertificateRefused
from backend.cards.sessions import CardRow, NewSession, OpenedSession
from backend.cards.store import card_sessions, cards, challenges, digest
from backend.cards.tokens import ParsedToken
from backend.db import alone_possible, database, statements_alone
from backend.errors import ApiError
from backend.identity.models import Terminal
from backend.identity.resolver import TerminalCheck, judge_terminal_row
from backend.reasons import Reason
from card_reader import wire

ECDSA_SHA256 = ec.ECDSA(Prehashed(hashes.SHA256()))
STATUS_REASONS = {"suspended": Reason.CARD_SUSPENDED, "revoked": Reason.CARD_REVOKED,
                  "superseded": Reason.CARD_SUPERSEDED}
ASSURANCE_BY_KEY = {"9A": "pin", "9E": "tap"}
TAP_KEY = "9E"  # the key a tap lock refuses; the PIN key (9A) still opens sessions
FINGERPRINT = {"9A": cards.c.cert_9a_sha256, "9E": cards.c.cert_9e_sha256}
terminals = Terminal.__table__
SESSION_COLUMNS = ("token_hash", "public_id", "card_id", "terminal_id", "terminal_kind",
                   "assurance", "created_at", "expires_at")


def refuse(reason: Reason, message: str, status: int = 401) -> ApiError:
    return ApiError(reason, message, status)


# --- challenge ----------------------------------------------------------------


def issue_challenge(key: bytes, terminal_id: str, ttl: int, now: dt.datetime) -> wire.Challenge:
    """A nonce bound to `terminal_id`, valid `ttl` seconds; no database write (`nonces`)."""
    expires = (now + dt.timedelta(seconds=ttl)).replace(microsecond=0)
    return wire.Challenge(nonces.make(key, terminal_id, expires), expires.isoformat())


# --- the database's part: spend the nonce, read the card, open the session -------------


def _spend(dialect_insert: Any) -> Any:
    """Record the nonce as spent; no row comes back when it was spent already."""
    return (dialect_insert(challenges)
            .values(nonce_hash=bindparam("spend_nonce"), terminal_id=bindparam("spend_terminal"),
                    expires_at=bindparam("spend_expires"), used_at=bindparam("now"))
            .on_conflict_do_nothing(index_elements=[challenges.c.nonce_hash])
            .returning(challenges.c.id))


def _card(key_ref: str) -> Any:
    return select(cards.c.id, cards.c.serial, cards.c.citizen_id, cards.c.status,
                  cards.c.tap_locked, FINGERPRINT[key_ref].label("fingerprint")
                  ).where(cards.c.card_uuid == bindparam("card_uuid"))


# The queue's columns the statement fills (migration 0007; PostgreSQL only, no model).
AUDIT_QUEUE = table(QUEUE_TABLE, *(column(name, Text) for name in (
    "actor_kind", "actor", "role", "terminal_id", "action", "subject_type", "subject_id",
    "purpose", "outcome", "details")), column("citizen_id", BigInteger),
    column("details_digest", LargeBinary))
AUDIT_FIELDS = ("actor_kind", "actor", "role", "terminal_id", "action", "subject_type",
                "subject_id", "citizen_id", "purpose", "outcome", "details", "details_digest")
FROM_CARD = {"actor": "serial", "subject_id": "serial", "citizen_id": "citizen_id"}


# The database server's run (migration 0026), which the nonce's key was made for
# (`Database.server_run`) if the statement is to spend it.
DATABASE_RUN = table("database_run", column("id", Integer), column("run", Text))
RUN_NOW = select(cast(DATABASE_RUN.c.run, Text)).where(
    DATABASE_RUN.c.id == literal_column("1")).scalar_subquery()
CURRENT_RUN = bindparam("server_run", type_=Text) == RUN_NOW
# The token's transaction commits without waiting for its WAL to reach the disk (see the
# module's docstring): set for this statement's own transaction, which ends with it.
NO_WAIT = func.set_config(literal_column("'synchronous_commit'"), literal_column("'off'"),
                          true()).label("commit_without_waiting")


def _spend_in_run(terminal: Any = None) -> Any:
    """`_spend` on PostgreSQL, but only in the nonce's run of the server (`CURRENT_RUN`)
    and, given the `terminal` row, only for one still enabled on the token's generation."""
    values = select(*(bindparam(name, type_=challenges.c[column].type) for name, column in (
        ("spend_nonce", "nonce_hash"), ("spend_terminal", "terminal_id"),
        ("spend_expires", "expires_at"), ("now", "used_at"))))
    if terminal is not None:
        values = values.select_from(terminal).where(
            terminal.c.enabled, terminal.c.token_generation == bindparam("t_generation"))
    values = values.where(CURRENT_RUN)
    return (postgresql.insert(challenges)
            .from_select(["nonce_hash", "terminal_id", "expires_at", "used_at"], values)
            .on_conflict_do_nothing(index_elements=[challenges.c.nonce_hash])
            .returning(challenges.c.id))


def _admit_statement(key_ref: str, audited: bool = False) -> Any:
    """PostgreSQL: the three steps in one statement (see the module's docstring). With
    `audited`, it reads the terminal first and spends the nonce only for a terminal
    still enabled on the token's generation (`t_id`, `t_generation`), opens the session
    only if the Python checks passed (`checked`), and queues the audit record with it."""
    terminal = None
    if audited:
        terminal = select(terminals.c.enabled, terminals.c.token_generation).where(
            terminals.c.id == bindparam("t_id")).cte("terminal")
        spent = _spend_in_run(terminal).cte("spent")
    else:
        spent = _spend_in_run().cte("spent")
    card = _card(key_ref).cte("card")
    admitted = [card.c.status == literal_column("'active'"),
                card.c.fingerprint == bindparam("fingerprint")]
    if key_ref == TAP_KEY:
        admitted.append(~card.c.tap_locked)
    if audited:
        admitted.append(bindparam("checked", type_=Boolean))
    values = select(bindparam("s_token_hash", type_=LargeBinary), bindparam("s_public_id"),
                    card.c.id, bindparam("s_terminal_id"), bindparam("s_terminal_kind"),
                    bindparam("s_assurance"), bindparam("now"), bindparam("s_expires_at")
                    ).select_from(card.join(spent, true())).where(*admitted)
    opened = (insert(card_sessions).from_select(SESSION_COLUMNS, values)
              .returning(card_sessions.c.id).cte("opened"))
    one = select(literal_column("1").label("one")).subquery("one")
    counts = [select(func.count()).select_from(opened).scalar_subquery().label("opened")]
    if audited:
        record = select(*(card.c[FROM_CARD[name]] if name in FROM_CARD else
                          bindparam(f"a_{name}", type_=AUDIT_QUEUE.c[name].type)
                          for name in AUDIT_FIELDS)).select_from(card.join(opened, true()))
        queued = (insert(AUDIT_QUEUE).from_select(AUDIT_FIELDS, record)
                  .returning(literal_column("1")).cte("queued"))
        counts.append(select(func.count()).select_from(queued).scalar_subquery()
                      .label("audited"))
        assert terminal is not None
        counts += [select(terminal.c[name]).scalar_subquery().label(f"terminal_{name}")
                   for name in ("enabled", "token_generation")]
        counts.append(NO_WAIT)
    counts.append(RUN_NOW.label("run"))
    return select(
        select(func.count()).select_from(spent).scalar_subquery().label("spent"),
        card.c.id, card.c.serial, card.c.citizen_id, card.c.status, card.c.tap_locked,
        card.c.fingerprint, *counts,
    ).select_from(one.outerjoin(card, true()))


ADMIT = {key_ref: _admit_statement(key_ref) for key_ref in FINGERPRINT}
ADMIT_AUDITED = {key_ref: _admit_statement(key_ref, audited=True) for key_ref in FINGERPRINT}
SPEND = _spend(sqlite.insert)
CARD = {key_ref: _card(key_ref) for key_ref in FINGERPRINT}


def _admit_stepwise(conn: Connection, key_ref: str, params: dict[str, Any],
                    new: NewSession) -> dict[str, Any]:
    """Other databases: the same three steps, one statement each."""
    spent = conn.execute(SPEND, {k: params[k] for k in (
        "spend_nonce", "spend_terminal", "spend_expires", "now")}).first() is not None
    card = conn.execute(CARD[key_ref], {"card_uuid": params["card_uuid"]}).first()
    opened = (spent and card is not None and card.status == "active"
              and card.fingerprint == params["fingerprint"]
              and not (key_ref == TAP_KEY and card.tap_locked))
    if opened:
        assert card is not None  # `opened` holds only for a card found
        conn.execute(insert(card_sessions).values(new.row(card.id)))
    found = dict(card._mapping) if card is not None else {
        "id": None, "serial": None, "citizen_id": None, "status": None, "tap_locked": None,
        "fingerprint": None}
    return {**found, "spent": int(spent), "opened": int(opened)}


def _params(parsed: ParsedToken, new: NewSession, nonce_expires: dt.datetime,
            now: dt.datetime) -> dict[str, Any]:
    """Parameter names never match a column name: for an UPDATE or INSERT, SQLAlchemy
    would take such a parameter as a value to set."""
    return {"spend_nonce": digest(parsed.token.nonce), "spend_terminal": new.terminal_id,
            "spend_expires": nonce_expires, "now": now,
            "card_uuid": parsed.certificate.card_uuid,
            "fingerprint": parsed.certificate.sha256}


def admit(conn: Connection, parsed: ParsedToken, new: NewSession, nonce_expires: dt.datetime,
          now: dt.datetime, run: str = "") -> dict[str, Any]:
    """Spend the nonce, read the card, open the session if all three allow it (on
    PostgreSQL only in the server's `run` the nonce was made for)."""
    key_ref = parsed.token.key_ref
    params = _params(parsed, new, nonce_expires, now)
    if conn.dialect.name == "postgresql":
        params.update({f"s_{k}": v for k, v in new.row().items() if k != "created_at"})
        params["server_run"] = run
        return dict(conn.execute(ADMIT[key_ref], params).one()._mapping)
    return _admit_stepwise(conn, key_ref, params, new)


# --- the checks, in order ---------------------------------------------------------------


def check_nonce(key: bytes, conn: Connection | Callable[[], Connection], nonce: bytes,
                terminal_id: str, now: dt.datetime) -> dt.datetime:
    """Unknown, expired, or another terminal's (after `reused`, which needs the table);
    the nonce's expiry when it may be spent here."""
    verdict = nonces.read(key, nonce, terminal_id)
    if not verdict.known or verdict.expires_at is None:
        raise refuse(Reason.NONCE_UNKNOWN, "the hub did not issue this nonce")
    if verdict.expires_at <= now:
        raise refuse(Reason.NONCE_EXPIRED, "the nonce has expired; ask for a new challenge")
    if not verdict.for_terminal:
        if _spent(conn if isinstance(conn, Connection) else conn(), nonce):
            raise refuse(Reason.NONCE_REUSED, "the nonce was used already")
        raise refuse(Reason.NONCE_OTHER_TERMINAL, "the nonce was issued to another terminal")
    return verdict.expires_at


def _spent(conn: Connection, nonce: bytes) -> bool:
    return conn.execute(select(challenges.c.id).where(
        challenges.c.nonce_hash == digest(nonce))).first() is not None


def check_certificate(cert: CardCertificate, key_ref: str, now: dt.datetime) -> None:
    try:
        cert.check(key_ref, now)
    except CertificateRefused as exc:
        raise refuse(exc.reason, exc.detail) from exc


def check_card(row: dict[str, Any], cert: CardCertificate, key_ref: str) -> CardRow:
    """The card's own step: issued with this certificate, active, and, for a tap, not
    locked for taps by its holder (who then always uses the PIN key)."""
    if row["id"] is None or row["fingerprint"] != cert.sha256:
        raise refuse(Reason.CARD_UNKNOWN, "no card was issued with this certificate", 403)
    if row["status"] != "active":
        raise refuse(STATUS_REASONS[row["status"]], f"the card is {row['status']}", 403)
    if key_ref == TAP_KEY and row["tap_locked"]:
        raise refuse(Reason.TAP_LOCKED, "this card is locked for taps; use the PIN", 403)
    return CardRow(row["id"], row["serial"], row["citizen_id"])


def check_signature(cert: CardCertificate, signature: bytes, origin: str, nonce: bytes) -> None:
    assert cert.public_key is not None  # a certificate with a usable key passed check()
    try:
        cert.public_key.verify(signature, wire.signed_digest(origin, nonce), ECDSA_SHA256)
    except (InvalidSignature, ValueError) as exc:
        raise refuse(Reason.SIGNATURE_INVALID, "the card's signature does not verify") from exc


def authenticate(conn: Connection, parsed: ParsedToken, terminal: Principal, *, key: bytes,
                 origin: str, ttl: int, now: dt.datetime, run: str = "",
                 nonce_spent: Callable[[dict[str, Any]], None] = lambda _row: None
                 ) -> OpenedSession:
    """Judge a well-formed token; a session, or the first refusal in the promised order.

    `nonce_spent` hears the spent nonce's row once the nonce passed its own checks, so
    that a later refusal can still spend it in a transaction of its own (the caller's
    transaction rolls back).
    """
    tok, cert = parsed.token, parsed.certificate
    new = NewSession.make(terminal, ASSURANCE_BY_KEY[tok.key_ref], ttl, now)
    expires = check_nonce(key, conn, tok.nonce, new.terminal_id, now)
    row = admit(conn, parsed, new, expires, now, run)
    refuse_other_run(row, run)
    if not row["spent"]:
        raise refuse(Reason.NONCE_REUSED, "the nonce was used already")
    nonce_spent({"nonce_hash": digest(tok.nonce), "terminal_id": new.terminal_id,
                 "expires_at": expires, "used_at": now})
    check_certificate(cert, tok.key_ref, now)
    card = check_card(row, cert, tok.key_ref)
    check_signature(cert, tok.signature, origin, tok.nonce)
    assert row["opened"], "an admitted card always gets its session row"
    return OpenedSession(new, card)


def authenticate_alone(parsed: ParsedToken, terminal: Principal, check: TerminalCheck | None,
                       *, key: bytes, origin: str, ttl: int, now: dt.datetime, run: str,
                       connection: Callable[[], Connection]) -> OpenedSession | None:
    """The terminal's check (`check`, left by the resolver), `authenticate` and the
    token's audit record as one statement in autocommit: the terminal's row read, the
    nonce spent, the session opened and `card.auth` queued for the chain, committed
    together, the audit sequencer then nudged. None where that cannot be done (not
    PostgreSQL as served, no audit queue, a transaction under way, no check left): the
    caller then judges the terminal and runs `authenticate` and `record` in the
    request's transaction.

    Same checks, same order, same refusals as the resolver and `authenticate`: a
    terminal refused spends nothing; any later refusal leaves the nonce spent (it
    committed with the statement) and nothing else. A refusal raised before the
    statement leaves the terminal unjudged: the caller judges it first
    (`backend.identity.resolver.judge_terminal`). `connection` is the request's
    transaction, for the one refusal that reads the table first (`nonce_reused` for
    another terminal's nonce). `run` is the database server's run `key` was made for
    (`Database.server_run`): the nonce is spent only while the server is still in it.
    """
    if check is None or not alone_possible() or not engine_queues(database().engine):
        return None
    tok, cert = parsed.token, parsed.certificate
    new = NewSession.make(terminal, ASSURANCE_BY_KEY[tok.key_ref], ttl, now)
    expires = check_nonce(key, connection, tok.nonce, new.terminal_id, now)
    certificate, signature = _refusals_without_database(cert, tok, origin, now)
    params = _params(parsed, new, expires, now)
    params.update({f"s_{k}": v for k, v in new.row().items() if k != "created_at"})
    params.update(_audit_params(new, cert), checked=certificate is None and signature is None,
                  t_id=check.terminal_id, t_generation=check.generation,
                  server_run=run)
    with statements_alone() as conn:
        assert conn is not None  # nothing opened the request's session in between
        row = dict(conn.execute(ADMIT_AUDITED[tok.key_ref], params).one()._mapping)
    judge_terminal_row(None if row["terminal_enabled"] is None else TerminalRow(
        row["terminal_enabled"], row["terminal_token_generation"]))
    refuse_other_run(row, run)
    if not row["spent"]:
        raise refuse(Reason.NONCE_REUSED, "the nonce was used already")
    if certificate is not None:
        raise certificate
    card = check_card(row, cert, tok.key_ref)
    if signature is not None:
        raise signature
    assert row["opened"] and row["audited"], "an admitted card gets its session and record"
    nudge(conn.engine)
    return OpenedSession(new, card)


def refuse_other_run(row: dict[str, Any], run: str) -> None:
    """Refuse a nonce made for another run of the database server than the statement
    found (PostgreSQL; its `run` column), and take that run for the next challenges."""
    if "run" in row and row["run"] != run:
        database().heard_run(row["run"])
        raise refuse(Reason.NONCE_EXPIRED, "the nonce was issued before the database "
                     "recovered from a crash; ask for a new challenge")


@dataclass(frozen=True)
class TerminalRow:
    enabled: bool
    token_generation: int


def _refusals_without_database(cert: CardCertificate, tok: wire.CardToken, origin: str,
                               now: dt.datetime) -> tuple[ApiError | None, ApiError | None]:
    """The certificate's refusal and the signature's (judged only for a certificate that
    passed), judged before the statement so that it opens only a session they allow."""
    try:
        check_certificate(cert, tok.key_ref, now)
    except ApiError as refused:
        return refused, None
    try:
        check_signature(cert, tok.signature, origin, tok.nonce)
    except ApiError as refused:
        return None, refused
    return None, None


def _audit_params(new: NewSession, cert: CardCertificate) -> dict[str, Any]:
    """The `card.auth` record's fields as `record` makes them for the session's principal
    (`OpenedSession.principal`), but the card's serial and holder, which the statement
    takes from the card's row."""
    entry = make_entry(None, action="card.auth", subject_type="card", subject_id=None,
                       outcome="ok", purpose=None,
                       details={"certificate": cert.sha256}, citizen_id=None)
    entry.update(actor_kind="card", role=clean_text(new.terminal_kind),
                 terminal_id=clean_text(new.terminal_id))
    return {f"a_{name}": entry[name] for name in AUDIT_FIELDS if name not in FROM_CARD}


def burn_nonce(conn: Connection, spent: dict[str, Any]) -> None:
    """Record a nonce as spent after a later check refused the token: one try per nonce."""
    stmt = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(
        challenges).values(**spent).on_conflict_do_nothing(
        index_elements=[challenges.c.nonce_hash])
    conn.execute(stmt)
