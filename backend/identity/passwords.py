"""Staff passwords: argon2id, memory-hard, so a stolen table is slow to crack.

Parameters: OWASP's argon2id configuration m=19 MiB, t=2, p=1 (Password Storage
Cheat Sheet), about 25 ms of one core per check here. RFC 9106's 64 MiB profile
costs 150-450 ms on the hub's two cores, which would make sign-in itself a way to
exhaust the hub; the throttle (`ratelimit`) bounds online guessing either way.
Hashes made with other parameters are upgraded at the next successful sign-in.
"""

from __future__ import annotations

import functools

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 12
# Long enough for any passphrase, short enough that nobody hashes a megabyte per request.
MAX_LENGTH = 256

_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32,
                         salt_len=16, type=Type.ID)


class WeakPassword(ValueError):
    """A password the hub will not accept; the message says why, for the person typing it."""


def check_policy(password: str, username: str) -> None:
    """Length is what matters (NIST SP 800-63B); no composition rules."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"a password has at most {MAX_LENGTH} characters")
    if password.strip().casefold() == username.casefold() or len(set(password)) < 4:
        raise WeakPassword("that password is too easy to guess")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


@functools.cache
def _decoy_hash() -> str:
    return _HASHER.hash("decoy password for unknown accounts")


def verify(stored_hash: str | None, password: str) -> tuple[bool, str | None]:
    """(matches, a new hash to store or None).

    An account without a password (SSO only) or an unknown one still costs one
    full check, so the answer's timing does not tell which usernames exist.
    """
    if len(password) > MAX_LENGTH:
        return False, None
    if stored_hash is None:
        _verify_quietly(_decoy_hash(), password)
        return False, None
    if not _verify_quietly(stored_hash, password):
        return False, None
    if _HASHER.check_needs_rehash(stored_hash):
        return True, _HASHER.hash(password)
    return True, None


def _verify_quietly(stored_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
