"""The cards domain's per-app state: the trust store and the issuing CA, loaded lazily.

Loaded on first use rather than at start, so `satukartu ca init` can follow the app's
creation (the demo, the tests); once a CA is found it is kept for the process's life
(a CA rollover is a restart, as with any key change).
"""

from __future__ import annotations

import hashlib
import hmac
import threading

from flask import Flask, current_app

from backend.cards.ca import IssuingCA, load_issuing_ca
from backend.cards.chain import TrustStore
from backend.cards.nonces import derive_key

KEY = "satukartu.cards"


class CardsState:
    def __init__(self, app: Flask) -> None:
        self.settings = app.config
        self._app = app
        self._nonce_base = derive_key(app.config["SECRET_KEY"])
        self._nonce_keys: dict[str, bytes] = {}
        self._trust: TrustStore | None = None
        self._issuing: IssuingCA | None = None
        self._lock = threading.Lock()

    @property
    def nonce_key(self) -> bytes:
        """The nonces' key for the database server's current run (`Database.server_run`):
        a nonce issued before the server's crash recovery or a failover proves nothing
        after, since the commit that spent it may be one the crash lost."""
        return self.nonce_key_for(self._app.extensions["satukartu.db"].server_run)

    def nonce_key_for(self, server_run: str) -> bytes:
        """The nonces' key for one run of the database server."""
        key = self._nonce_keys.get(server_run)
        if key is None:
            key = self._nonce_keys[server_run] = (
                hmac.new(self._nonce_base, server_run.encode(), hashlib.sha256).digest()
                if server_run else self._nonce_base)
        return key

    def trust_store(self) -> TrustStore:
        store = self._trust
        if store:
            return store
        with self._lock:
            if not self._trust:
                self._trust = TrustStore.from_directory(self.settings["CA_DIR"])
            return self._trust

    def issuing_ca(self) -> IssuingCA:
        if self._issuing is None:
            with self._lock:
                if self._issuing is None:
                    self._issuing = load_issuing_ca(dict(self.settings))
        return self._issuing

    def reload(self) -> None:
        with self._lock:
            self._trust = None
            self._issuing = None


def state(app: Flask | None = None) -> CardsState:
    target = app or current_app
    found = target.extensions.get(KEY)
    if found is None:
        found = target.extensions[KEY] = CardsState(target)
    return found
