"""No identity of the hub is an SPDCI peer: each `/dci/` endpoint, sent a well-formed
request by every kind of hub caller (staff, terminals, card sessions, nobody), refuses it
as unauthorized and changes nothing. A `/dci/` route without a catalogue entry fails."""

from __future__ import annotations

from sqlalchemy import func, select

from backend.db import session
from backend.dci.models import DciSubscription, DciTransaction
from tests.reliability.security.dci_requests import DCI_CATALOGUE, DCI_OPEN
from tests.reliability.security.request_world import Ctx, send


def _dci_endpoints(app) -> set[str]:
    return {rule.endpoint for rule in app.url_map.iter_rules()
            if rule.rule.startswith("/dci/")}


def test_every_dci_route_has_a_catalogue_entry(app):
    assert _dci_endpoints(app) == set(DCI_CATALOGUE) | set(DCI_OPEN)


def test_no_hub_caller_is_taken_for_a_peer(app, client, world, callers, soft_card):
    ctx = Ctx(app, client, world, soft_card)
    wrong = []
    for endpoint, call in sorted(DCI_CATALOGUE.items()):
        for caller, token in sorted(callers.items()):
            answer = send(ctx, "post", call, token)
            body = answer.get_json(silent=True) or {}
            codes = [e.get("code") for e in body.get("errors", [])]
            if answer.status_code != 401 or codes != ["err.request.unauthorized"]:
                wrong.append(f"{endpoint} as {caller}: {answer.status_code} {body}")
    assert not wrong, "\n".join(wrong)
    assert session().execute(select(func.count()).select_from(DciTransaction)).scalar() == 0
    assert session().execute(select(func.count()).select_from(DciSubscription)).scalar() == 0
