"""Sign-in throttling that an attacker cannot turn against someone else.

The choice, and why:

- Failures are counted per (account, source address) pair. Five in a row lock that
  pair for a minute, and each further failure doubles the lock, up to an hour. An
  attacker guessing a clerk's password from their own address locks only their own
  address out of that account; the clerk signs in from theirs as usual.
- Failures are also counted per source over all accounts (password spraying: one
  password against many usernames). Thirty lock the source, with the same backoff.
- A source where an account has signed in successfully before is "known" for that
  account: locks and holds caused by failures elsewhere never apply to it, only its
  own pair counter does. This is what makes the global limits safe to have.
- Failures on one staff account from all sources together (a botnet spreading its
  guesses thin) put the account on hold after 100 in a day: unknown sources are
  refused until an admin lifts the hold (`POST /api/v1/staff/<username>/unlock` or
  `satukartu staff unlock`). Known sources still get in, so even a hold cannot lock
  a clerk out of their own counter. No CAPTCHA: the counter is the only screen.
- Terminals (OAuth2 client credentials) get the pair and source limits, no hold:
  their secrets are 256 random bits, guessing them is hopeless anyway.
- Addresses: IPv4 as is; IPv6 by its /64, the block one subscriber usually holds.
  Behind a reverse proxy the hub must see the client's address (ProxyFix).
- Each try is reserved before the password is checked, in its own committed
  transaction, with a conditional upsert: concurrent requests each get their own
  count, so a burst of parallel guesses gets no more tries than a sequence does.
  A success gives the reservation back (`settle_success`). Where the check is cheap
  (a terminal's secret), it is made in the reserving transaction and a right one
  gives its try back there, before it is committed: concurrent tries of a pair take
  turns on its row, and only failures are ever seen by the others, so a burst of
  right sign-ins is never throttled (backend/identity/oauth.py). A password's argon2
  check is too slow to hold the row for; staff tries give theirs back afterwards.

Unknown usernames are counted like known ones, so the answers do not reveal which
accounts exist.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from backend.db import rowcount
from backend.errors import ApiError
from backend.identity.models import AuthThrottle
from backend.reasons import Reason

ANY = "*"
STAFF_REALM = "staff"
TERMINAL_REALM = "terminal"
_T = AuthThrottle.__table__


@dataclass(frozen=True)
class Policy:
    pair_limit: int = 5
    source_limit: int = 30
    hold_after: int | None = 100
    base_lock: int = 60
    max_lock: int = 3600
    window: int = 86400

    def lock_seconds(self, failures: int, limit: int) -> int:
        """Exponential backoff: the limit-th failure locks base_lock, each further doubles."""
        return min(self.base_lock * 2 ** min(failures - limit, 20), self.max_lock)


STAFF_POLICY = Policy()
TERMINAL_POLICY = Policy(hold_after=None)


@dataclass(frozen=True)
class Key:
    realm: str
    account: str
    source: str


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


def source_key(address: str | None) -> str:
    """The unit an attacker pays for: an IPv4 address, an IPv6 /64."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def reserve(session: Session, key: Key, policy: Policy, now: dt.datetime | None = None) -> None:
    """Count one try before the secret is checked; refuse if a lock or hold applies.

    Call it in its own transaction: it commits the count whatever the outcome of
    the sign-in, and rolls back (counts nothing) when it refuses.
    """
    now = now or utcnow()
    bumped = _bump(session, key.realm, key.account, key.source, now, policy, guard="lock")
    if bumped is None:
        raise _locked(session, key.realm, key.account, key.source, now)
    pair, known = bumped
    spray_bumped = _bump(session, key.realm, ANY, key.source, now, policy,
                         guard=None if known else "lock")
    if spray_bumped is None:
        raise _locked(session, key.realm, ANY, key.source, now)
    spray = spray_bumped[0]
    if policy.hold_after is not None:
        total = _bump(session, key.realm, key.account, ANY, now, policy,
                      guard=None if known else "hold")
        if total is None:
            raise ApiError(Reason.ACCOUNT_LOCKED, "this account is on hold after many failed "
                           "sign-ins; an administrator can lift the hold", 403)
        if total[0] >= policy.hold_after:
            _set(session, key.realm, key.account, ANY, held=True)
    _lock_if_over(session, key.realm, key.account, key.source, pair, policy.pair_limit,
                  policy, now)
    _lock_if_over(session, key.realm, ANY, key.source, spray, policy.source_limit, policy, now)


def settle_success(session: Session, key: Key, policy: Policy,
                   now: dt.datetime | None = None) -> None:
    """The try was good: clear the pair, mark the source known, give the reservation back."""
    now = now or utcnow()
    cleared = {"failures": 0, "locked_until": None, "last_success_at": now}
    session.execute(_insert(session)(_T).values(
        realm=key.realm, account=key.account, source=key.source, window_started_at=now,
        held=False, **cleared).on_conflict_do_update(
            index_elements=[_T.c.realm, _T.c.account, _T.c.source], set_=cleared))
    for account, source, limit in ((ANY, key.source, policy.source_limit),
                                   (key.account, ANY, policy.hold_after)):
        if limit is None:
            continue  # no such counter under this policy
        remaining = _T.c.failures - 1
        values: dict[str, Any] = {"failures": case((_T.c.failures > 0, remaining), else_=0)}
        if account == ANY:
            values["locked_until"] = case((remaining < limit, None), else_=_T.c.locked_until)
        session.execute(update(_T).where(*_is(key.realm, account, source)).values(**values))


def unlock(session: Session, realm: str, account: str) -> int:
    """Lift every lock and the hold on one account (an admin's decision); known sources stay."""
    result = session.execute(update(_T).where(_T.c.realm == realm, _T.c.account == account)
                             .values(failures=0, locked_until=None, held=False))
    return rowcount(result) or 0


def prune(session: Session, policy: Policy, now: dt.datetime | None = None) -> int:
    """Forget counters that no longer matter (stale, unlocked, never a success)."""
    now = now or utcnow()
    cutoff = now - dt.timedelta(seconds=policy.window)
    result = session.execute(_T.delete().where(
        _T.c.held.is_(False), _T.c.last_success_at.is_(None), _T.c.window_started_at < cutoff,
        or_(_T.c.locked_until.is_(None), _T.c.locked_until < now)))
    return rowcount(result) or 0


def is_held(session: Session, realm: str, account: str) -> bool:
    held = session.execute(select(_T.c.held).where(*_is(realm, account, ANY))).scalar()
    return bool(held)


def _is(realm: str, account: str, source: str) -> tuple[Any, ...]:
    return (_T.c.realm == realm, _T.c.account == account, _T.c.source == source)


def _insert(session: Session) -> Any:
    """INSERT ... ON CONFLICT, which both databases have, in the dialect's spelling."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else \
        sqlite.insert


def _bump(session: Session, realm: str, account: str, source: str, now: dt.datetime,
          policy: Policy, guard: str | None) -> tuple[int, bool] | None:
    """Add one failure (a fresh window if the old one is stale); None if the guard refuses.

    Returns the count and whether this row has seen a success (a known source).
    """
    stale = _T.c.window_started_at < now - dt.timedelta(seconds=policy.window)
    statement = _insert(session)(_T).values(realm=realm, account=account, source=source, failures=1,
                                  window_started_at=now, held=False, last_failure_at=now)
    where = None
    if guard == "lock":
        where = or_(_T.c.locked_until.is_(None), _T.c.locked_until <= now)
    elif guard == "hold":
        where = _T.c.held.is_(False)
    statement = statement.on_conflict_do_update(
        index_elements=[_T.c.realm, _T.c.account, _T.c.source],
        set_={"failures": case((stale, 1), else_=_T.c.failures + 1),
              "window_started_at": case((stale, now), else_=_T.c.window_started_at),
              "last_failure_at": now},
        where=where,
    ).returning(_T.c.failures, _T.c.last_success_at)
    row = session.execute(statement).first()
    return None if row is None else (row.failures, row.last_success_at is not None)


def _lock_if_over(session: Session, realm: str, account: str, source: str, failures: int,
                  limit: int, policy: Policy, now: dt.datetime) -> None:
    if failures >= limit:
        until = now + dt.timedelta(seconds=policy.lock_seconds(failures, limit))
        _set(session, realm, account, source, locked_until=until)


def _set(session: Session, realm: str, account: str, source: str, **values: Any) -> None:
    session.execute(update(_T).where(and_(*_is(realm, account, source))).values(**values))


def _locked(session: Session, realm: str, account: str, source: str,
            now: dt.datetime) -> ApiError:
    until = as_utc(session.execute(select(_T.c.locked_until).where(
        *_is(realm, account, source))).scalar())
    wait = max(1, int((until - now).total_seconds()) + 1) if until else 1
    return ApiError(Reason.RATE_LIMITED, f"too many failed sign-ins; try again in {wait} s",
                    429, details={"retry_after": wait}, headers={"Retry-After": str(wait)})
