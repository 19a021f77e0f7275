"""The service-module interface: what a programme declares, and what the hub gives it.

A service module is a Python package that exposes one `ServiceModule` object through
the `satukartu.services` entry point group::

    [options.entry_points]
    satukartu.services =
        library = satukartu_library:module

The entry point's name must equal the module's `key` (lowercase letters, digits and
underscores). A city enables modules with `SATUKARTU_SERVICES` and sets their
parameters with `SATUKARTU_SERVICE_<KEY>_<PARAM>` variables; the hub passes them to
`configure` at start. An admin may later enable or disable a module and change its
parameters while the hub runs (`satukartu programme`, `/api/v1/programmes`): the hub
then configures a fresh copy of the module with the city's parameters and the admin's
on top, so `configure` must only parse and check, never keep state elsewhere. A change
to a parameter declared `Param(..., needs_approval=True)` (the default: amounts and
eligibility rules decide who gets what) takes a second admin's approval.

The module declares; the hub does the rest, the same way for every module:
authentication, authorisation (assurance, terminal kind, staff role), one database
transaction per request, ledger postings, the audit record (with the action's
`purpose`), idempotency (a replayed `Idempotency-Key` returns the first answer) and
errors. A module imports nothing of the hub but this package, never commits, and
refuses with `refuse(Reason.X, ...)`, or with a reason of its own declared in
`ServiceModule.reasons`, so every refusal has a machine-readable reason.

Money-like values are integers in the currency's smallest unit. A module holds its
balances in *purses* (one account per beneficiary and purse); each purse's rules
(`PurseRule`: holder, cashable, carry-over, categories, caps, agent categories) are
data in a services file, not code, and the ledger enforces them (`purse_rules`).
Periodic grants are `Allocation`s: one SQL select over the registry that the hub runs
in batches, so a city of a million households is allocated in one pass, idempotently
(one grant per programme, period and beneficiary).

The contract is this package's top level, in a few small files: `interface` (the
module, its actions and parameters, the context), `records` (registry values),
`periods`, `purses`, `allocations` and `rules` (rules several programmes share).
The hub's side lives beside it: `catalogue` (finding and configuring modules),
`purse_rules` (reading the purses' rules from the services files),
`authorise`, `context` (the `ServiceContext` implementation) and `api`.
"""

from __future__ import annotations

from backend.api.routing import StrictModel
from backend.reasons import Reason
from backend.services.allocations import Allocation, RegistryTables
from backend.services.interface import (
    ENTRY_POINT_GROUP,
    KEY_PATTERN,
    Action,
    Assurance,
    CashWithdrawal,
    NoInput,
    Param,
    ServiceContext,
    ServiceModule,
    refuse,
    result,
)
from backend.services.periods import Cadence, Period, years_before
from backend.services.purses import Beneficiary, HolderKind, Posting, PurseRule
from backend.services.records import (
    Citizen,
    Eligibility,
    Enrolment,
    Fact,
    HealthCover,
    Household,
    Member,
)
from backend.services.rules import (
    beneficiaries_by_age_and_decile,
    cash_withdrawal,
    decide_by_age_and_decile,
)

__all__ = [
    "ENTRY_POINT_GROUP", "KEY_PATTERN",
    "Action", "Allocation", "Assurance", "Beneficiary", "Cadence", "CashWithdrawal",
    "Citizen", "Eligibility", "Enrolment", "Fact", "HealthCover", "HolderKind",
    "Household", "Member", "NoInput", "Param", "Period", "Posting", "PurseRule", "Reason",
    "RegistryTables", "ServiceContext", "ServiceModule", "StrictModel",
    "beneficiaries_by_age_and_decile", "cash_withdrawal", "decide_by_age_and_decile",
    "refuse", "result", "years_before",
]
