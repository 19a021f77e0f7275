"""The hub's side of `backend.services.ServiceContext`: what a module may read and do.

Registry reads return the interface's frozen dataclasses (never ORM rows, so a module
cannot write the registry); ledger operations go through `postings` with the purse's
rules applied; facts are rows of `service_facts`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from flask import current_app
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from backend import services as iface
from backend.auth.principal import Principal
from backend.errors import ApiError
from backend.identity.models import Terminal
from backend.ledger import postings
from backend.ledger.models import ServiceFact
from backend.reasons import Reason
from backend.registry import models as reg

CITIZENS = reg.Citizen.__table__
HOUSEHOLDS = reg.Household.__table__
MEMBERS = reg.HouseholdMember.__table__
FACTS = ServiceFact.__table__
TERMINALS = Terminal.__table__


def citizen_view(row: Any) -> iface.Citizen:
    return iface.Citizen(id=row.id, full_name=row.full_name, birth_date=row.birth_date,
                         sex=row.sex, region_code=row.region_code, language=row.language,
                         died_on=row.died_on)


class HubContext:
    """One request's context for one module (see `backend.services.ServiceContext`)."""

    def __init__(self, sess: Session, module: iface.ServiceModule, principal: Principal | None,
                 citizen_id: int | None, today: date | None = None) -> None:
        self.session = sess
        self.module = module
        self.key = module.key
        self.params: Mapping[str, Any] = module.config
        self.principal = principal
        self.citizen_id = citizen_id
        self.today = today or date.today()
        self._citizen: iface.Citizen | None = None

    # registry reads ---------------------------------------------------------------
    @property
    def citizen(self) -> iface.Citizen:
        if self._citizen is None:
            if self.citizen_id is None:
                raise ApiError(Reason.FORBIDDEN, "this needs a citizen's card session", 403)
            row = self.session.execute(
                select(CITIZENS).where(CITIZENS.c.id == self.citizen_id)).one()
            self._citizen = citizen_view(row)
        return self._citizen

    def household_id_of(self, citizen_id: int) -> int | None:
        return self.session.execute(select(MEMBERS.c.household_id)
                                    .where(MEMBERS.c.citizen_id == citizen_id)).scalar()

    def household_of(self, citizen_id: int) -> iface.Household | None:
        household_id = self.household_id_of(citizen_id)
        if household_id is None:
            return None
        home = self.session.execute(
            select(HOUSEHOLDS).where(HOUSEHOLDS.c.id == household_id)).one()
        rows = self.session.execute(
            select(CITIZENS, MEMBERS.c.relationship)
            .join(MEMBERS, MEMBERS.c.citizen_id == CITIZENS.c.id)
            .where(MEMBERS.c.household_id == household_id).order_by(CITIZENS.c.id))
        members = tuple(iface.Member(citizen_view(r), r.relationship) for r in rows)
        return iface.Household(id=home.id, family_card_number=home.family_card_number,
                               region_code=home.region_code,
                               welfare_decile=home.welfare_decile or 10,
                               head_citizen_id=home.head_citizen_id, members=members)

    def enrolments(self, citizen_id: int) -> tuple[iface.Enrolment, ...]:
        rows = self.session.scalars(select(reg.SchoolEnrolment).where(
            reg.SchoolEnrolment.citizen_id == citizen_id).order_by(reg.SchoolEnrolment.id))
        return tuple(iface.Enrolment(r.school_code, r.school_name, r.level, r.grade,
                                     r.academic_year, bool(r.active)) for r in rows)

    def health_cover(self, citizen_id: int) -> iface.HealthCover | None:
        row = self.session.get(reg.HealthAssignment, citizen_id)
        if row is None:
            return None
        return iface.HealthCover(row.facility_code, row.facility_name, row.jkn_class,
                                 bool(row.premium_assisted), bool(row.active))

    # facts ----------------------------------------------------------------------
    def facts(self, programme: str, kind: str, citizen_ids: tuple[int, ...],
              since: date, until: date) -> tuple[iface.Fact, ...]:
        rows = self.session.execute(
            select(FACTS).where(FACTS.c.programme == programme, FACTS.c.kind == kind,
                                FACTS.c.citizen_id.in_(citizen_ids),
                                FACTS.c.occurred_on <= until,
                                func.coalesce(FACTS.c.valid_until, FACTS.c.occurred_on)
                                >= since)
            .order_by(FACTS.c.occurred_on, FACTS.c.id))
        return tuple(iface.Fact(r.programme, r.kind, r.citizen_id, r.occurred_on,
                                r.data or {}, r.valid_until) for r in rows)

    def record_fact(self, kind: str, citizen_id: int, occurred_on: date,
                    data: Mapping[str, Any], valid_until: date | None = None) -> None:
        self.session.execute(insert(FACTS).values(
            programme=self.key, kind=kind, citizen_id=citizen_id, occurred_on=occurred_on,
            valid_until=valid_until,
            terminal_id=self.principal.terminal_id if self.principal else None,
            data=dict(data)))

    # ledger ---------------------------------------------------------------------
    def _rule(self, purse: str) -> iface.PurseRule:
        rule = self.module.purses.get(purse)
        if rule is None:
            raise ApiError(Reason.UNKNOWN_PURSE, f"{self.key} has no purse {purse!r}", 500)
        return rule

    def beneficiary(self, purse: str) -> iface.Beneficiary:
        rule = self._rule(purse)
        if rule.holder == "citizen":
            return iface.Beneficiary("citizen", self.citizen.id)
        household_id = self.household_id_of(self.citizen.id)
        if household_id is None:
            raise ApiError(Reason.NOT_ELIGIBLE, "the card holder is on no family card", 403,
                           {"eligibility": "no_household"})
        return iface.Beneficiary("household", household_id)

    def _owner(self, purse: str, beneficiary: iface.Beneficiary | None) -> postings.Owner:
        who = beneficiary or self.beneficiary(purse)
        return postings.Owner.of(who.kind, who.id)

    def account_id(self, purse: str, beneficiary: iface.Beneficiary | None = None
                   ) -> int | None:
        return postings.find_account(self.session, self.key, purse,
                                     self._owner(purse, beneficiary))

    def balance(self, purse: str, beneficiary: iface.Beneficiary | None = None) -> int:
        return postings.balance_of(self.session, self.account_id(purse, beneficiary))

    def recent(self, purse: str, limit: int = 10, *, terminal_id: str | None = None
               ) -> list[dict[str, Any]]:
        """The purse's latest lines; with `terminal_id`, only that terminal's."""
        return postings.recent_lines(self.session, self.account_id(purse), limit,
                                     terminal_id=terminal_id)

    def _entry(self, kind: str, purse: str, details: Mapping[str, Any] | None
               ) -> postings.Entry:
        principal = self.principal
        return postings.Entry(
            kind=kind, programme=self.key, purse=purse,
            terminal_id=principal.terminal_id if principal else None,
            actor=f"{principal.kind}:{principal.subject}" if principal else None,
            citizen_id=self.citizen_id, details=details)

    def debit(self, purse: str, amount: int, *, kind: str = "spend",
              categories: tuple[str, ...] = (), details: Mapping[str, Any] | None = None,
              beneficiary: iface.Beneficiary | None = None) -> iface.Posting:
        rule = self._rule(purse)
        _check_amount(amount)
        if kind == "withdrawal" and not rule.cashable:
            raise ApiError(Reason.PURSE_NOT_CASHABLE, f"{purse} credit cannot be cashed", 422)
        outside = sorted(set(categories) - rule.categories) if rule.categories else []
        if outside:
            raise ApiError(Reason.CATEGORY_NOT_ALLOWED,
                           f"{purse} credit does not buy {', '.join(outside)}", 422,
                           {"categories": outside, "allowed": sorted(rule.categories or ())})
        self._check_agent(purse, rule)
        source = self.account_id(purse, beneficiary)
        if source is None:
            raise ApiError(Reason.INSUFFICIENT_BALANCE, f"no {purse} credit", 409,
                           {"balance": 0, "amount": amount})
        terminal = self.principal.terminal_id if self.principal else None
        sink = postings.open_account(self.session, self.key, purse,
                                     postings.Owner("terminal", terminal or "hub"))
        caps = None
        if rule.daily_cap is not None or rule.monthly_cap is not None:
            caps = postings.Caps(source, rule.daily_cap, rule.monthly_cap,
                                 current_app.config["CITY_TIMEZONE"])
        entry_id, after = postings.post(self.session, self._entry(kind, purse, details),
                                        [(source, -amount), (sink, amount)], self.today,
                                        caps=caps)
        self._sign_receipt(kind, entry_id)
        return iface.Posting(entry_id, amount, after[source])

    def _check_agent(self, purse: str, rule: iface.PurseRule) -> None:
        """An agent shop redeems a purse only if its category is one the purse's rule
        lists (a terminal registered with no category is in none). Read from the
        terminal's row, not the token, so a re-categorised shop is held to it at once;
        only for purses with the rule, so others pay no extra read."""
        principal = self.principal
        if rule.agent_categories is None or principal is None \
                or principal.terminal_kind != "agent":
            return
        category = self.session.execute(
            select(TERMINALS.c.category).where(TERMINALS.c.id == principal.terminal_id)
        ).scalar()
        if category not in rule.agent_categories:
            raise ApiError(Reason.AGENT_CATEGORY_NOT_ALLOWED,
                           f"{purse} credit is not redeemed at this kind of shop", 403,
                           {"category": category, "allowed": sorted(rule.agent_categories)})

    def _sign_receipt(self, kind: str, entry_id: int) -> None:
        """A redemption's receipt is signed in the redemption's own transaction, so it
        states what the ledger said as it committed, not when someone first asked."""
        from backend.documents import receipts

        if kind in receipts.RECEIPT_ENTRY_KINDS:
            receipts.issue_for_entry(self.session, entry_id)

    def credit(self, purse: str, amount: int, *, kind: str = "credit",
               details: Mapping[str, Any] | None = None,
               beneficiary: iface.Beneficiary | None = None) -> iface.Posting:
        self._rule(purse)
        _check_amount(amount)
        owner = self._owner(purse, beneficiary)
        target = postings.open_account(self.session, self.key, purse, owner)
        funding = postings.open_account(self.session, self.key, purse, postings.FUNDING)
        entry_id, after = postings.post(self.session, self._entry(kind, purse, details),
                                        [(funding, -amount), (target, amount)], self.today)
        return iface.Posting(entry_id, amount, after[target])

    # documents ------------------------------------------------------------------
    def issue_document(self, kind: str, purpose: str = "") -> Mapping[str, Any]:
        from backend.documents.civil import issue_civil

        terminal = self.principal.terminal_id if self.principal else None
        return issue_civil(self.session, kind, self.citizen.id, purpose=purpose,
                           terminal_id=terminal).summary()


def _check_amount(amount: int) -> None:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise ApiError(Reason.AMOUNT_INVALID, "the amount must be a whole number above 0",
                       422, {"amount": amount})
