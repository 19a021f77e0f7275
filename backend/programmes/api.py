"""Programme endpoints: what runs and with which parameters; changes that need no approval.

Admins and auditors read; admins change. A change to an amount or an eligibility rule
is refused `approval_required`, with the request to submit to the approvals endpoint
in the refusal's details; enabling and disabling are direct (and audited).
"""

from __future__ import annotations

from backend.api.routing import Api
from backend.auth.principal import Requirement, current_principal
from backend.db import session
from backend.programmes import settings
from backend.programmes.schemas import ProgrammeChangeBody, ProgrammeList, ProgrammeOut
from backend.reasons import Reason as R

api = Api("programmes", url_prefix="/programmes", tag="programmes")

ADMIN = Requirement(roles=("admin",))
READERS = Requirement(roles=("admin", "auditor"))


@api.route("", summary="Every installed programme: enabled, parameters and their sources",
           auth=READERS, response=ProgrammeList)
def list_programmes() -> ProgrammeList:
    return ProgrammeList(items=[ProgrammeOut.model_validate(view)
                                for view in settings.list_programmes(session())])


@api.route("/<key>", summary="One programme: enabled, parameters and their sources",
           auth=READERS, response=ProgrammeOut, reasons=(R.UNKNOWN_SERVICE,))
def get_programme(key: str) -> ProgrammeOut:
    """`source` says where each value comes from (the module's default, the city's
    configuration, or an admin's change in the database); `ignored` names a stored value
    the module no longer accepts, which is left out until an admin sets or resets it."""
    return ProgrammeOut.model_validate(settings.describe(key, session()))


@api.route("/<key>", "PATCH", summary="Enable, disable or re-set a programme", auth=ADMIN,
           body=ProgrammeChangeBody, response=ProgrammeOut,
           reasons=(R.UNKNOWN_SERVICE, R.VALIDATION_FAILED, R.APPROVAL_REQUIRED))
def change_programme(key: str, body: ProgrammeChangeBody) -> ProgrammeOut:
    """Takes effect in every hub process within SATUKARTU_PROGRAMME_REFRESH_MS. A
    disabled programme disappears from kiosks, counters and agents, and its actions are
    refused `service_disabled`. Changing a parameter that needs approval (amounts,
    eligibility rules) is refused `approval_required`: its details hold the `kind` and
    the `payload` to submit at `submit_to`."""
    principal = current_principal()
    assert principal is not None
    settings.apply_change(session(), key, enabled=body.enabled, parameters=body.parameters,
                          principal=principal)
    return ProgrammeOut.model_validate(settings.describe(key, session()))
