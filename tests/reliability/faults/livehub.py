"""A hub served over HTTP from the test process, and what the fault tests put in it.

The hub is the real app (`create_app`) under werkzeug's threaded server on a free
loopback port, so clients, the reader daemon and the CLI reach it as they would reach
`satukartu serve`; everything set up in it goes through the hub's own code (registry,
ledger postings, the issuing CA, the token endpoint).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from backend.app import create_app
from backend.cards import ca as ca_module
from backend.cards.context import state
from backend.registry.models import Citizen, Household
from backend.testing.cards import SoftCard, authenticate, make_soft_card, record_soft_card
from backend.testing.identity import TerminalCredentials, make_terminal
from backend.testing.registry import make_citizen, make_household
from backend.testing.services import fund_account
from tests.support.private_services import free_port

SECRET = "fault-tests-secret-not-for-production"
PATH_SESSION = "/api/v1/auth/session"
PATH_REDEEM = "/api/v1/services/food/redeem"


@dataclass
class LiveHub:
    app: Flask
    url: str
    server: BaseWSGIServer
    thread: threading.Thread
    http: requests.Session = field(default_factory=requests.Session)

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(10)
        self.http.close()
        self.app.extensions["satukartu.db"].engine.dispose()

    def session_state(self, session_token: str) -> tuple[int, str | None]:
        """What the hub says of a card session: (200, None) while it is open, else the
        status and the refusal's reason (`session_ended` once logged out)."""
        answer = self.http.get(self.url + PATH_SESSION, timeout=10,
                               headers={"Authorization": f"Bearer {session_token}"})
        return answer.status_code, reason_of(answer)


def reason_of(answer: requests.Response) -> str | None:
    if answer.status_code < 400:
        return None
    try:
        return answer.json()["error"]["reason"]
    except (ValueError, KeyError, TypeError):
        return f"unreadable:{answer.text[:80]}"


def serve(database_url: str, instance_dir: Path, **settings: Any) -> LiveHub:
    """The hub on `database_url`, answering on http://127.0.0.1:<free port>."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = create_app(DATABASE_URL=database_url, INSTANCE_DIR=str(instance_dir),
                     SECRET_KEY=SECRET, ORIGIN=url, LOG_LEVEL="WARNING", **settings)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-hub", daemon=True)
    thread.start()
    return LiveHub(app, url, server, thread)


def init_card_ca(app: Flask) -> ca_module.IssuingCA:
    """The city's issuing CA in the hub's instance folder, trusted from now on."""
    issuing = ca_module.init_ca(app.config["CA_DIR"], "Kota Uji")
    state(app).reload()
    return issuing


def food_household(app: Flask, credit: int) -> tuple[Citizen, Household]:
    """A household eligible for food assistance whose grocery purse holds `credit`;
    (its head, the household)."""
    with app.app_context():
        head = make_citizen()
        family = make_household(head=head, welfare_decile=2)
        fund_account("food", "groceries", family, credit)
        return head, family


def register_terminal(app: Flask, kind: str) -> TerminalCredentials:
    """A terminal of `kind` with its client credentials and a token from the hub."""
    return make_terminal(app, kind)


def soft_card_for(app: Flask, issuing: ca_module.IssuingCA, holder: Citizen) -> SoftCard:
    """A card with real keys and certificates from `issuing`, recorded as active."""
    with app.app_context():
        card = make_soft_card(issuing, holder.national_number, holder.id)
        record_soft_card(card)
        return card


def pin_session(app: Flask, terminal: TerminalCredentials, card: SoftCard) -> str:
    """A card session with the PIN key (9A) at `terminal`, through the token endpoint."""
    with app.app_context():
        answer = authenticate(app.test_client(), terminal.token, card, app.config["ORIGIN"],
                              "9A")
    assert answer.status_code == 200, answer.json
    return answer.json["session_token"]


def issue_virtual_card(app: Flask, reader: str, holder: Citizen, pin: str) -> str:
    """Personalise the blank card in `reader` for `holder` through pcscd, as `satukartu
    card issue` does, and record it; the card's serial."""
    from backend.cards import issuance
    from backend.db import database
    from card_reader.client import PivSession
    from card_reader.pcsc import PcscConnection

    with app.app_context(), database().transaction() as tx, PcscConnection(reader) as conn:
        issued = issuance.issue(tx, PivSession(conn), ca=state(app).issuing_ca(),
                                settings=dict(app.config),
                                citizen_number=holder.national_number, pin=pin)
    return issued.serial


def basket(amount: int) -> dict[str, Any]:
    """A redemption body: one line of rice costing `amount`."""
    return {"items": [{"name": "Beras 1 kg", "category": "rice", "quantity": 1,
                       "unit_price": amount}], "amount": amount}
