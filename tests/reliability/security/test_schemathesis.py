"""Schemathesis against the hub's own `/api/v1/openapi.json`, in-process and offline.

Every operation of the served document gets schema-valid and schema-invalid requests
(bodies, queries, path parameters), some aimed at objects that exist (a citizen, a
receipt, a document, a terminal...) and sent as a caller the operation admits (staff,
terminal, or a card session with PIN), so the requests get past authentication into
the views. Each response must be a non-5xx that matches the document: status code,
content type, headers and body schema (4xx bodies against the `Error` schema).

Not checked: `positive_data_acceptance`. The document can say "a string of 16 digits"
but not "a NIK whose birth date and sex agree with the record", so a schema-valid
request refused by a domain rule (422 with its reason) is correct, not a lie.

Examples per operation: `SATUKARTU_FUZZ_EXAMPLES` (default 20); the run covers all
operations on SQLite and PostgreSQL in about a minute each on two cores.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.core.failures import FailureGroup
from schemathesis.core.parameters import ParameterLocation

from backend.api.openapi import openapi_path
from backend.api.routing import OPERATIONS, Operation
from backend.services.catalogue import modules
from tests.reliability.security.conftest import World, headers_for

EXAMPLES = int(os.environ.get("SATUKARTU_FUZZ_EXAMPLES", "20"))
load_all_checks()
EXCLUDED = [check for check in CHECKS.get_all() if check.__name__ == "positive_data_acceptance"]

pytestmark = pytest.mark.slow


def callers_for(op: Operation, world: World) -> list[str]:
    """Callers the operation admits (the furthest-reaching of each kind)."""
    need = op.auth
    if need.public:
        return ["anonymous"]
    chosen = []
    if need.roles:
        chosen.append("staff:admin" if "admin" in need.roles else f"staff:{need.roles[0]}")
    if need.terminal_kinds:
        if op.path.startswith("/api/v1/services/"):  # each action admits its own kinds
            chosen += [f"card:{kind}:pin" for kind in need.terminal_kinds]
        elif need.card:
            chosen.append(f"card:{need.terminal_kinds[0]}:pin")
        else:
            kind = "agent" if "agent" in need.terminal_kinds else need.terminal_kinds[0]
            chosen.append(f"terminal:{kind}")
    return chosen


def real_path_parameters(op: Operation, world: World) -> list[dict[str, Any]]:
    """Path parameters naming objects that exist, so requests reach the views."""
    reads = op.method == "get"
    values: dict[str, list[Any]] = {
        "citizen_id": [world.ani.id if reads else world.spare.id],
        "enrolment_id": [world.enrolment_id],
        "household_id": [world.ani.household.id if reads else world.budi.household.id],
        "username": [world.spare_staff],
        "terminal_id": [world.terminals["agent"].terminal_id
                        if "/settlements/" in op.path else world.spare_terminal],
        "day": [world.day],
        "serial": [world.spare_card],
        "public_id": [world.ani.document],
        "entry_id": [world.ani.receipt],
    }
    if op.path.startswith("/api/v1/services/"):
        return [{"key": key, "action_name": name}
                for key, module in sorted(modules().items()) for name in sorted(module.actions)]
    _, params = openapi_path(op.path)
    names = [p["name"] for p in params]
    if not names:
        return []
    if op.path.endswith("/enrolments/<int:enrolment_id>"):
        return [{"citizen_id": world.ani.id, "enrolment_id": world.enrolment_id}]
    # A name with no object of the world's (an approval's, a job's id): 1, maybe nothing.
    return [{name: values.get(name, [1])[0] for name in names}]


def cases(operation: Any, op: Operation, world: World) -> st.SearchStrategy:
    modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    free = [operation.as_strategy(mode) for mode in modes]
    real = [operation.as_strategy(mode, path_parameters=params)
            for params in real_path_parameters(op, world) for mode in modes]
    return st.one_of(*free, *real)


def _headers_mutated(case: Any) -> bool:
    """Whether the case's headers were generated to break the schema (a negative case)."""
    return case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER)


def exercise(app: Any, world: World, op: Operation) -> dict[str, str]:
    """Run the operation's examples; the first report of each distinct failure."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    path, _ = openapi_path(op.path)
    operation = schema[path][op.method.upper()]
    tokens = world.callers()
    found: dict[str, str] = {}

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=cases(operation, op, world), caller=st.sampled_from(callers_for(op, world)))
    def run(case: Any, caller: str) -> None:
        headers = headers_for(tokens[caller])
        if _headers_mutated(case) and "Authorization" not in (case.headers or {}):
            headers = {}  # the mutation is the missing credential: adding it would undo it
        if "Idempotency-Key" not in (case.headers or {}):  # a generated one is sent as is
            headers["Idempotency-Key"] = str(uuid.uuid4())
        try:
            case.call_and_validate(headers=headers, excluded_checks=EXCLUDED)
        except FailureGroup as failures:
            for failure in failures.exceptions:
                found.setdefault(f"{op.method.upper()} {op.path} as {caller}: "
                                 f"{failure.title}", str(failures)[:3000])

    run()
    return found


def test_every_operation_answers_within_its_schema_and_never_with_a_server_error(app, world):
    found: dict[str, str] = {}
    for op in OPERATIONS:
        found.update(exercise(app, world, op))
    assert not found, "\n\n".join(f"{title}\n{report}" for title, report in found.items())


def test_the_served_document_names_every_declared_operation(client):
    served = client.get("/api/v1/openapi.json").json["paths"]
    for op in OPERATIONS:
        path, _ = openapi_path(op.path)
        assert op.method in served.get(path, {}), (op.method, path)
