"""The contract between a programme module and the hub: what a module declares, and
what the hub gives each of its actions (`ServiceContext`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, NoReturn, Protocol

from pydantic import BaseModel

from backend.api.routing import StrictModel
from backend.errors import ApiError
from backend.reasons import Reason
from backend.services.allocations import Allocation
from backend.services.purses import Beneficiary, Posting, PurseRule
from backend.services.records import (
    Citizen,
    Eligibility,
    Enrolment,
    Fact,
    HealthCover,
    Household,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from backend.auth.principal import Principal

ENTRY_POINT_GROUP = "satukartu.services"
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
Assurance = Literal["tap", "pin"]


def refuse(reason: Reason | StrEnum, message: str, status: int = 422,
           **details: Any) -> NoReturn:
    """Stop the action: the hub rolls back everything and answers with `reason`.

    `reason` is the hub's `Reason` where one says what happened, or one of the
    module's own (`ServiceModule.reasons`), so a module never borrows a reason that
    means something else."""
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
class Action:
    """One thing a module offers at a terminal or counter.

    `handler(ctx, input)` does the work inside the hub's transaction and returns a
    JSON-able dict (or a pydantic model); it refuses with `refuse(...)`.
    `assurance`: the least card assurance (`tap`, or `pin` after the card's PIN).
    `terminal_kinds` (kiosk, counter, agent, gate) and `staff_roles` (admin, clerk,
    agent, auditor): who may call it. A terminal calls it only in a card session of
    at least `assurance`, and the card's holder is the citizen served; staff call it
    without one (no citizen is served, `ServiceContext.citizen` refuses). The hub
    checks all of this once, through the same guard as every endpoint
    (`backend.services.authorise`). `purpose`: why personal data is used, written to
    the audit log.
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
        `category_not_allowed` (a category outside the purse's rule),
        `agent_category_not_allowed` (an agent shop whose category the purse's rule does
        not list), `daily_cap_exceeded` and `monthly_cap_exceeded` (the holder's debits
        of the purse this local day or month would pass its cap) and, for
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
    `actions` (name -> Action); `allocations`;
    `reasons`: the module's own refusal reasons, a `StrEnum` whose values are
    lowercase codes that no hub `Reason` has (checked at start), for a refusal the
    hub's reasons do not describe (a library's `book_overdue`, say).
    After `configure`, `self.config` holds the parsed parameters.

    A module does not declare its purses' rules: they are the city's data, in a
    services file (`[<key>.purses.<name>]`: the hub's default for its own programmes, a
    `services.toml` in a third party's package beside its module, then the city's
    `SATUKARTU_SERVICES_FILE`). The hub attaches them as `purses` (name -> PurseRule).
    """

    key: str = ""
    title: Mapping[str, str] = {}
    params: Mapping[str, Param] = {}
    purses: Mapping[str, PurseRule] = {}
    actions: Mapping[str, Action] = {}
    allocations: tuple[Allocation, ...] = ()
    reasons: type[StrEnum] | None = None

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
