"""Readiness: can this hub serve now? Its database, its broker, its keys.

Liveness (`/api/v1/health`) stays cheap; readiness is what a load balancer asks before
sending traffic, so each check is bounded: all run at once, and one that has not
answered within `DEADLINE` seconds counts as failed (its thread is left to finish).
The answer names each check and its status, never a URL, host, path or error text:
it is public. The details go to the log.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from kombu import Connection
from sqlalchemy import Engine, text

from backend.cards.ca import ISSUING_CERT, ISSUING_KEY, load_certificate
from backend.keys.purposes import PURPOSES
from backend.keys.ring import is_pem

log = logging.getLogger(__name__)

DEADLINE = 3.0  # seconds, for all checks together
OK, FAILED, TIMEOUT, NOT_CHECKED = "ok", "failed", "timeout", "not_checked"


class NotReady(Exception):
    """A check found its dependency unusable; the message is for the log only."""


def check_database(engine: Engine) -> str:
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL statement_timeout = 2000"))
        conn.execute(text("SELECT 1"))
    return OK


def check_broker(url: str) -> str:
    """One connection attempt, no retry loop: a broker that refuses is down now."""
    options = {"socket_connect_timeout": 2, "socket_timeout": 2, "max_retries": 1}
    with Connection(url, connect_timeout=2, transport_options=options) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
    return OK


def _readable_file(path: Path) -> None:
    if not path.is_file() or not os.access(path, os.R_OK):
        raise NotReady(f"{path} is missing or unreadable")


def check_ca_certificate(settings: Mapping[str, Any]) -> str:
    """The issuing certificate every card authentication chains to: read and parsed."""
    load_certificate(Path(settings["CA_DIR"]) / ISSUING_CERT)
    return OK


def check_ca_key(settings: Mapping[str, Any]) -> str:
    """The issuing key's file is there and readable; not loaded (signing does that). A
    key on an HSM (`pkcs11:`) is not checked here."""
    uri = str(settings.get("CA_KEY_URI") or "")
    if uri.startswith("pkcs11:"):
        return NOT_CHECKED
    _readable_file(Path(uri) if uri else Path(settings["CA_DIR"]) / ISSUING_KEY)
    return OK


def check_signing_key(settings: Mapping[str, Any], purpose: str) -> str:
    """A signing key's file is readable, or absent from a folder the hub may write (the
    keyring makes it at its first signature, `backend.keys.ring.read_or_create`)."""
    value = str(settings[PURPOSES[purpose][0]])
    if is_pem(value):
        return OK
    path = Path(value)
    if path.exists():
        _readable_file(path)
        return OK
    folder = next((p for p in path.parents if p.exists()), None)
    if folder is None or not os.access(folder, os.W_OK | os.X_OK):
        raise NotReady(f"{path} is absent and cannot be made")
    return OK


def checks(settings: Mapping[str, Any], engine: Engine) -> dict[str, Callable[[], str]]:
    return {
        "database": lambda: check_database(engine),
        "broker": lambda: check_broker(settings["BROKER_URL"]),
        "ca_certificate": lambda: check_ca_certificate(settings),
        "ca_key": lambda: check_ca_key(settings),
        "document_signing_key": lambda: check_signing_key(settings, "documents"),
        "audit_signing_key": lambda: check_signing_key(settings, "checkpoints"),
    }


def run(named: Mapping[str, Callable[[], str]], deadline: float = DEADLINE) -> dict[str, str]:
    """Each check's status, all run at once within `deadline`."""
    pool = ThreadPoolExecutor(max_workers=len(named), thread_name_prefix="ready")
    try:
        futures = {name: pool.submit(check) for name, check in named.items()}
        wait(futures.values(), timeout=deadline)
        return {name: _status(name, future) for name, future in futures.items()}
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _status(name: str, future: Any) -> str:
    if not future.done():
        log.warning("readiness: %s did not answer within %ss", name, DEADLINE)
        return TIMEOUT
    error = future.exception()
    if error is None:
        return str(future.result())
    log.warning("readiness: %s failed: %s: %s", name, type(error).__name__, error)
    return FAILED


def failed(statuses: Mapping[str, str]) -> list[str]:
    return [name for name, status in statuses.items() if status in (FAILED, TIMEOUT)]
