"""No identity of the hub is a registry we pull from: each `/dci/pull/` callback route,
sent a well-formed notification by every kind of hub caller (staff, terminals, card
sessions, nobody), refuses it as forbidden (the sender is no registry named in
SATUKARTU_DCI_PULL_PEERS) and changes nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from backend.db import session
from backend.dci.models import DciTransaction
from backend.registry.models import RegistryChange
from tests.reliability.security.requests_catalogue import DCI_PULL_CATALOGUE, Ctx, send


def test_no_hub_caller_is_taken_for_a_registry_we_pull_from(app, client, world, callers,
                                                             soft_card):
    ctx = Ctx(app, client, world, soft_card)
    changes = session().execute(select(func.count()).select_from(RegistryChange)).scalar()
    wrong = []
    for endpoint, call in sorted(DCI_PULL_CATALOGUE.items()):
        for caller, token in sorted(callers.items()):
            answer = send(ctx, "post", call, token)
            body = answer.get_json(silent=True) or {}
            codes = [e.get("code") for e in body.get("errors", [])]
            if answer.status_code != 403 or codes != ["err.request.forbidden"]:
                wrong.append(f"{endpoint} as {caller}: {answer.status_code} {body}")
    assert not wrong, "\n".join(wrong)
    assert session().execute(select(func.count()).select_from(DciTransaction)).scalar() == 0
    assert session().execute(select(func.count()).select_from(RegistryChange)).scalar() \
        == changes
