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
errors. A module imports nothing of the hub but this file, never commits, and refuses
with `refuse(Reason.X, ...)` so every refusal has a machine-readable reason.

Money-like values are integers in the currency's smallest unit. A module holds its
balances in *purses* (one account per beneficiary and purse); each purse's rules
(`PurseRule`) are data the ledger enforces. Periodic grants are `Allocation`s: one SQL
select over the registry that the hub runs in batches, so a city of a million
households is allocated in one pass, idempotently (one grant per programme, period
and beneficiary).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Literal, NoReturn, Protocol

from pydantic import BaseModel

from backend.api.routing import StrictModel
from backend.errors import ApiError
from backend.reasons import Reason

if TYPE_CHECKING:
    from sqlalchemy import Select
    from sqlalchemy.orm import Session

    from backend.auth.principal import Principal

__all__ = [
    "Action", "Allocation", "Beneficiary", "CashWithdrawal", "Citizen", "Eligibility",
    "Enrolment", "Fact",
    "HealthCover", "Household", "Member", "Param", "Period", "Posting", "PurseRule",
    "Reason", "RegistryTables", "ServiceContext", "ServiceModule", "StrictModel",
    "NoInput", "beneficiaries_by_age_and_decile", "cash_withdrawal",
    "decide_by_age_and_decile", "refuse", "registry_tables", "years_before",
]

ENTRY_POINT_GROUP = "satukartu.services"
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
Assurance = Literal["tap", "pin"]
Cadence = Literal["monthly", "quarterly", "semester"]
HolderKind = Literal["citizen", "household"]


def years_before(day: date, years: int) -> date:
    """The same calendar day `years` earlier (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def refuse(reason: Reason, message: str, status: int = 422, **details: Any) -> NoReturn:
    """Stop the action: the hub rolls back everything and answers with `reason`."""
    raise ApiError(reason, message, status, details or None)


class NoInput(StrictModel):
    """Input schema of an action that takes no body."""


class CashWithdrawal(StrictModel):
    """What a counter sends to pay a cashable purse out: the amount, in the city's unit."""

    amount: int


@dataclass(frozen=True)
class Param:
    """A parameter the city sets (`SATUKARTU_SERVICE_<KEY>_<NAME>`), parsed from text.

    `parse` raises ValueError for a value the module cannot work with; the hub refuses
    it at start, or when an admin types it. `needs_approval`: whether an admin's change
    at run time needs a second admin to approve it. Keep it True (the default) for
    amounts and eligibility rules; set it False only for a setting that decides neither
    who benefits nor how much (a screen's page size, say).
    """

    default: Any
    doc: str
    parse: Callable[[str], Any] = int
    needs_approval: bool = True


@dataclass(frozen=True)
class PurseRule:
    """How the ledger treats one purse's balances; a programme declares, the ledger enforces.

    `holder`: whose account it is. `cashable`: may be withdrawn as cash at a counter.
    `carry_over`: False means unspent credit expires at the end of the period it was
    granted for (`expires_after_days` later); True keeps it, unless `expires_after_days`
    is set. `categories`: the item categories it may buy (None: any).
    Expiry is written as journal entries, never as edits.
    """

    holder: HolderKind = "citizen"
    cashable: bool = False
    carry_over: bool = True
    categories: frozenset[str] | None = None
    expires_after_days: int | None = None

    def expires_on(self, period: Period) -> date | None:
        """When credit granted for `period` lapses (None: never)."""
        if self.carry_over and self.expires_after_days is None:
            return None
        return period.end + timedelta(days=self.expires_after_days or 0)


@dataclass(frozen=True)
class Period:
    """A grant cycle: `2026-05` (month), `2026-Q2` (quarter), `2026-S1` (semester)."""

    key: str
    cadence: Cadence
    start: date
    end: date  # inclusive

    @classmethod
    def parse(cls, key: str) -> Period:
        match = re.fullmatch(r"(\d{4})-(?:(\d{2})|Q([1-4])|S([12]))", key.strip())
        if not match:
            raise ValueError(f"not a period: {key!r} (YYYY-MM, YYYY-Qn or YYYY-Sn)")
        year, month, quarter, semester = match.groups()
        first, months, cadence = (
            (int(month), 1, "monthly") if month else
            (3 * int(quarter) - 2, 3, "quarterly") if quarter else
            (6 * int(semester) - 5, 6, "semester"))
        if not 1 <= first <= 12:
            raise ValueError(f"not a period: {key!r}")
        start = date(int(year), first, 1)
        after = date(int(year) + (first + months - 1) // 12, (first + months - 1) % 12 + 1, 1)
        return cls(key.strip(), cadence, start, after - timedelta(days=1))  # type: ignore[arg-type]

    @classmethod
    def containing(cls, day: date, cadence: Cadence) -> Period:
        if cadence == "monthly":
            return cls.parse(f"{day.year}-{day.month:02d}")
        if cadence == "quarterly":
            return cls.parse(f"{day.year}-Q{(day.month - 1) // 3 + 1}")
        return cls.parse(f"{day.year}-S{(day.month - 1) // 6 + 1}")


@dataclass(frozen=True)
class Action:
    """One thing a module offers at a terminal or counter.

    `handler(ctx, input)` does the work inside the hub's transaction and returns a
    JSON-able dict (or a pydantic model); it refuses with `refuse(...)`.
    `assurance`: the least card assurance (`tap`, or `pin` after the card's PIN).
    `terminal_kinds` (kiosk, counter, agent, gate) and `staff_roles` (admin, clerk,
    agent, auditor): who may call it; a card session is always needed, its citizen is
    the one served. `purpose`: why personal data is used, written to the audit log.
    `mutating` actions need an `Idempotency-Key` header. `eligible_only`: the hub
    refuses `not_eligible` (with the module's reason) before calling the handler.
    """

    handler: Callable[[ServiceContext, Any], Any]
    purpose: str
    summary: str = ""
    input: type[StrictModel] = NoInput
    assurance: Assurance = "pin"
    terminal_kinds: tuple[str, ...] = ()
    staff_roles: tuple[str, ...] = ()
    mutating: bool = True
    eligible_only: bool = True


@dataclass(frozen=True)
class Eligibility:
    """A decision with its reason: `reason` is a short machine-readable code when not
    eligible (e.g. `decile_above_threshold`, `child_clinic_visit_missing`)."""

    eligible: bool
    reason: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def yes(cls, **details: Any) -> Eligibility:
        return cls(True, None, details)

    @classmethod
    def no(cls, reason: str, **details: Any) -> Eligibility:
        return cls(False, reason, details)


@dataclass(frozen=True)
class Allocation:
    """A periodic grant over the whole registry, computed in SQL, run by the hub.

    `beneficiaries(tables, period, params, low, high)` returns a select with columns
    `beneficiary_id` (the household or citizen id, per the purse's holder),
    `citizen_id` (the citizen served, or NULL) and `amount` (> 0), restricted to
    `low < beneficiary_id <= high`: the hub walks the id range in batches, one
    transaction each, so a killed run resumes and a re-run grants nothing twice. The
    holder kind (household or citizen) is the purse's.
    """

    purse: str
    cadence: Cadence
    beneficiaries: Callable[[RegistryTables, Period, Mapping[str, Any], int, int], Select]
    in_arrears: bool = False  # True: paid after the period, for conditions met in it

    def due_period(self, day: date) -> Period:
        """The period the scheduled run on `day` pays for."""
        current = Period.containing(day, self.cadence)
        if not self.in_arrears:
            return current
        return Period.containing(current.start - timedelta(days=1), self.cadence)


@dataclass(frozen=True)
class Beneficiary:
    kind: HolderKind
    id: int


@dataclass(frozen=True)
class Posting:
    """What the ledger wrote: the journal entry (also the receipt number) and the
    beneficiary's balance after it."""

    entry_id: int
    amount: int
    balance_after: int

    def answer(self, **extra: Any) -> dict[str, Any]:
        """The action's answer every terminal prints a receipt from."""
        return {"entry_id": self.entry_id, "receipt": self.entry_id, "amount": self.amount,
                "balance_after": self.balance_after, **extra}


def cash_withdrawal(purse: str) -> Callable[[ServiceContext, CashWithdrawal], dict[str, Any]]:
    """The handler of a counter's cash pay-out from `purse` (the purse must be cashable)."""

    def withdraw(ctx: ServiceContext, request: CashWithdrawal) -> dict[str, Any]:
        return ctx.debit(purse, request.amount, kind="withdrawal").answer()

    return withdraw


@dataclass(frozen=True)
class Citizen:
    id: int
    full_name: str
    birth_date: date
    sex: str
    region_code: str
    language: str
    died_on: date | None

    def age_on(self, day: date) -> int:
        before_birthday = (day.month, day.day) < (self.birth_date.month, self.birth_date.day)
        return day.year - self.birth_date.year - before_birthday


@dataclass(frozen=True)
class Member:
    citizen: Citizen
    relationship: str  # head | spouse | child | parent | other


@dataclass(frozen=True)
class Household:
    id: int
    family_card_number: str
    region_code: str
    welfare_decile: int
    head_citizen_id: int | None
    members: tuple[Member, ...]


@dataclass(frozen=True)
class Enrolment:
    school_code: str
    school_name: str
    level: str  # primary | junior | senior
    grade: int
    academic_year: str
    active: bool


@dataclass(frozen=True)
class HealthCover:
    facility_code: str
    facility_name: str
    jkn_class: int
    premium_assisted: bool
    active: bool


@dataclass(frozen=True)
class Fact:
    """Something a module recorded that others may read (a clinic visit, ...); a fact
    that lasts (a pregnancy) holds from `occurred_on` to `valid_until`."""

    programme: str
    kind: str
    citizen_id: int
    occurred_on: date
    data: Mapping[str, Any]
    valid_until: date | None = None


@dataclass(frozen=True)
class RegistryTables:
    """SQLAlchemy Core tables an `Allocation` may select from (read only)."""

    citizens: Any
    households: Any
    members: Any
    enrolments: Any
    health: Any
    facts: Any


def registry_tables() -> RegistryTables:
    """The registry's tables, and the compliance facts modules record."""
    from backend.ledger.models import ServiceFact
    from backend.registry import models as reg

    return RegistryTables(reg.Citizen.__table__, reg.Household.__table__,
                          reg.HouseholdMember.__table__, reg.SchoolEnrolment.__table__,
                          reg.HealthAssignment.__table__, ServiceFact.__table__)


class ServiceContext(Protocol):
    """What a handler or `eligibility` gets from the hub for one request.

    Reads see the request's transaction; writes (postings, facts) land in it and are
    committed by the hub together with the audit record, or not at all.
    """

    key: str  # the module's key
    params: Mapping[str, Any]  # the city's parameters, with admins' changes on top
    principal: Principal | None  # who is asking (card session, terminal or staff)
    session: Session  # the request's session: read freely, never commit
    today: date

    @property
    def citizen(self) -> Citizen:
        """The card session's citizen (the one being served)."""

    def household_of(self, citizen_id: int) -> Household | None: ...

    def enrolments(self, citizen_id: int) -> tuple[Enrolment, ...]: ...

    def health_cover(self, citizen_id: int) -> HealthCover | None: ...

    def facts(self, programme: str, kind: str, citizen_ids: tuple[int, ...],
              since: date, until: date) -> tuple[Fact, ...]:
        """Facts recorded by any module that hold at some day between two dates."""

    def record_fact(self, kind: str, citizen_id: int, occurred_on: date,
                    data: Mapping[str, Any], valid_until: date | None = None) -> None:
        """Record a fact under this module's key, for other modules to read."""

    def beneficiary(self, purse: str) -> Beneficiary:
        """Whose account `purse` means for the served citizen (them or their household)."""

    def balance(self, purse: str, beneficiary: Beneficiary | None = None) -> int: ...

    def debit(self, purse: str, amount: int, *, kind: str = "spend",
              categories: tuple[str, ...] = (), details: Mapping[str, Any] | None = None,
              beneficiary: Beneficiary | None = None) -> Posting:
        """Move `amount` from the beneficiary's purse to this terminal's account.

        Refuses `amount_invalid` (<= 0), `insufficient_balance`, `credit_expired`,
        `category_not_allowed` (a category outside the purse's rule) and, for
        `kind="withdrawal"`, `purse_not_cashable`.
        """

    def credit(self, purse: str, amount: int, *, kind: str = "credit",
               details: Mapping[str, Any] | None = None,
               beneficiary: Beneficiary | None = None) -> Posting:
        """Move `amount` from the programme's funding account to the beneficiary (an
        ad-hoc credit; periodic grants are `Allocation`s, run by the hub)."""

    def recent(self, purse: str, limit: int = 10) -> list[dict[str, Any]]: ...

    def issue_document(self, kind: str, purpose: str = "") -> Mapping[str, Any]:
        """Have the hub issue a civil document of `kind` (`domicile_letter`,
        `family_card_extract`) for the served citizen, from the registry as it stands:
        a PDF signed by the city with a QR code to its public verification. Returns
        `public_id`, `kind`, `number`, `issued_at`, `verify_url`, `pdf_url`,
        `content_sha256`. Refuses `citizen_deceased`, and `not_eligible` for an extract
        of a family card the citizen is not on.
        """


class ServiceModule:
    """Base class of a programme. Subclass it, set the class attributes, override
    `eligibility` (and `overview` if the kiosk should show more than balances).

    Attributes: `key`; `title` ({"en": ..., "id": ...}); `params` (name -> Param);
    `purses` (name -> PurseRule); `actions` (name -> Action); `allocations`.
    After `configure`, `self.config` holds the parsed parameters.
    """

    key: str = ""
    title: Mapping[str, str] = {}
    params: Mapping[str, Param] = {}
    purses: Mapping[str, PurseRule] = {}
    actions: Mapping[str, Action] = {}
    allocations: tuple[Allocation, ...] = ()

    def __init__(self) -> None:
        self.config: dict[str, Any] = {name: p.default for name, p in self.params.items()}

    def configure(self, values: Mapping[str, str]) -> None:
        """Take the city's parameters (text, by lowercase name); unknown names refused."""
        unknown = set(values) - set(self.params)
        if unknown:
            raise ValueError(f"{self.key}: unknown parameters {sorted(unknown)}")
        for name, raw in values.items():
            try:
                self.config[name] = self.params[name].parse(raw)
            except ValueError as exc:
                raise ValueError(f"{self.key}: parameter {name}: {exc}") from exc

    def title_in(self, language: str) -> str:
        return self.title.get(language) or self.title.get("en") or self.key

    def eligibility(self, ctx: ServiceContext, citizen: Citizen) -> Eligibility:
        """Whether `citizen` may benefit now, and why not; read the registry via ctx."""
        return Eligibility.yes()

    def overview(self, ctx: ServiceContext, citizen: Citizen) -> Mapping[str, Any]:
        """Extra facts a card holder may see about this programme (e.g. their clinic)."""
        return {}


def result(model: BaseModel | Mapping[str, Any]) -> dict[str, Any]:
    """A handler's answer as JSON-able data."""
    if isinstance(model, BaseModel):
        return model.model_dump(mode="json")
    return dict(model)


# A rule several programmes share -------------------------------------------------------
def decide_by_age_and_decile(citizen: Citizen, household: Household | None, day: date,
                             params: Mapping[str, Any]) -> Eligibility:
    """Eligible, while living, from `min_age` in a household at or below `decile_threshold`.

    For monthly programmes with params `min_age`, `decile_threshold`, `monthly_amount`;
    `beneficiaries_by_age_and_decile` is the same rule as one set-based query.
    """
    if citizen.died_on is not None:
        return Eligibility.no("deceased", died_on=citizen.died_on.isoformat())
    age = citizen.age_on(day)
    if age < params["min_age"]:
        return Eligibility.no("under_age", age=age, min_age=params["min_age"])
    if household is None:
        return Eligibility.no("no_household")
    if household.welfare_decile > params["decile_threshold"]:
        return Eligibility.no("decile_above_threshold", decile=household.welfare_decile,
                              threshold=params["decile_threshold"])
    return Eligibility.yes(monthly_amount=params["monthly_amount"])


def beneficiaries_by_age_and_decile(t: RegistryTables, period: Period,
                                    params: Mapping[str, Any], low: int, high: int) -> Select:
    from sqlalchemy import literal, select

    c, m, h = t.citizens, t.members, t.households
    return (select(c.c.id.label("beneficiary_id"), c.c.id.label("citizen_id"),
                   literal(params["monthly_amount"]).label("amount"))
            .join(m, m.c.citizen_id == c.c.id).join(h, h.c.id == m.c.household_id)
            .where(c.c.id > low, c.c.id <= high, c.c.died_on.is_(None),
                   c.c.birth_date <= years_before(period.start, params["min_age"]),
                   h.c.welfare_decile <= params["decile_threshold"]))
