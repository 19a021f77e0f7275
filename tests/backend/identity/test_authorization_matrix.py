"""Who may call what: every declared endpoint against every staff role and terminal kind.

The foundation of the role x route matrix: for each operation in the OpenAPI
document, a caller its Requirement does not admit is refused before the view runs,
with the reason that names what was missing; nobody gets in without a token; and
on identity's own routes the admitted callers are not refused for who they are.
"""

import re

import pytest

from backend.api.routing import OPERATIONS
from backend.auth.principal import STAFF_ROLES, TERMINAL_KINDS
from backend.reasons import Reason
from backend.testing.identity import bearer

WHO_REFUSALS = {Reason.AUTHENTICATION_REQUIRED, Reason.TOKEN_INVALID, Reason.ROLE_NOT_ALLOWED,
                Reason.TERMINAL_KIND_NOT_ALLOWED, Reason.FORBIDDEN, Reason.ASSURANCE_TOO_LOW}


def concrete(path):
    """A request path for a rule: ints become 0, anything else a value nothing has."""
    path = re.sub(r"<int:[^>]+>", "0", path)
    return re.sub(r"<(?:[a-z]+:)?[^>]+>", "no-such-thing", path)


def call(client, op, token=None):
    headers = bearer(token) if token else {}
    return client.open(concrete(op.path), method=op.method.upper(), headers=headers, json={})


@pytest.fixture
def callers(staff_token, terminal):
    """One token per staff role and per terminal kind: (kind, role) -> token."""
    found = {("staff", role): staff_token(role) for role in STAFF_ROLES}
    found.update({("terminal", kind): terminal(kind).token for kind in TERMINAL_KINDS})
    return found


def guarded_operations():
    return [op for op in OPERATIONS if not op.auth.public]


def admits(requirement, kind, role):
    if kind == "staff":
        return role in requirement.roles and not requirement.card
    return role in requirement.terminal_kinds and not requirement.card


def expected_refusal(requirement, kind, role):
    if kind == "staff":
        return Reason.FORBIDDEN if role in requirement.roles else Reason.ROLE_NOT_ALLOWED
    if role in requirement.terminal_kinds:
        return Reason.FORBIDDEN  # admitted kind, but the endpoint needs a card session
    return Reason.TERMINAL_KIND_NOT_ALLOWED


def test_every_guarded_operation_needs_a_token(client):
    for op in guarded_operations():
        answer = call(client, op)
        assert answer.status_code == 401, (op.method, op.path)
        assert answer.json["error"]["reason"] == Reason.AUTHENTICATION_REQUIRED


def test_callers_an_operation_does_not_admit_are_refused_with_the_reason(client, callers):
    for op in guarded_operations():
        for (kind, role), token in callers.items():
            if admits(op.auth, kind, role):
                continue
            answer = call(client, op, token)
            assert answer.status_code == 403, (op.method, op.path, kind, role)
            assert answer.json["error"]["reason"] == expected_refusal(op.auth, kind, role), (
                op.method, op.path, kind, role)


def test_admitted_callers_pass_the_guard_of_identity_routes(client, callers):
    for op in guarded_operations():
        if not op.endpoint.startswith("api_identity.") or op.endpoint.endswith("logout"):
            continue
        for (kind, role), token in callers.items():
            if not admits(op.auth, kind, role):
                continue
            answer = call(client, op, token)
            reason = (answer.json or {}).get("error", {}).get("reason")
            assert reason not in WHO_REFUSALS, (op.method, op.path, kind, role, reason)
