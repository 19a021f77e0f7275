"""What an agent can do for the citizen whose card is in: entitlements, orders, sales.

An entitlement is a programme action this agent terminal may run for the card holder
(a food credit redemption, a cash pay-out) with the balance it draws on. The order is
what the agent keyed: which entitlement, the amount, and for goods the category the
credit allows; `run` turns it into that action's input, so the programme decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from admin.common.messages import category_words
from backend.api.routing import parse_model
from backend.audit import record
from backend.auth.principal import Principal
from backend.db import session
from backend.services.authorise import allowed_here
from backend.services.catalogue import modules
from backend.services.holder_view import programmes_for
from backend.services.perform import perform

MAX_AMOUNT = 999_999_999
# (module, action) pairs an agent runs from this screen, and how each takes its input.
GOODS = "goods"
CASH = "cash"
SALE_KINDS = {"redeem": GOODS, "withdraw": CASH}


class BadOrder(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Entitlement:
    programme: str
    action: str
    title: str
    kind: str  # GOODS or CASH
    balance: int
    categories: tuple[str, ...]


def options(principal: Principal) -> list[Entitlement]:
    """The card holder's entitlements this terminal can serve, goods before cash; an
    entitlement with nothing left is not offered (the agent could only be refused)."""
    overview = programmes_for(principal)
    found = []
    for programme in overview.programmes:
        module = modules()[programme.key]
        for name, action in module.actions.items():
            kind = SALE_KINDS.get(name)
            if kind is None or not action.mutating or not allowed_here(action, principal):
                continue
            purse = next(iter(module.purses), None)
            rule = module.purses.get(purse) if purse else None
            balance = sum(programme.balances.values())
            if balance > 0:
                found.append(Entitlement(
                    programme.key, name, programme.title, kind, balance,
                    tuple(sorted(rule.categories)) if rule and rule.categories else ()))
    return sorted(found, key=lambda e: (e.kind != GOODS, e.title))


def preselected(choices: list[Entitlement]) -> str | None:
    """One entitlement chosen for the agent: goods credit first (what a shop is for)."""
    return choices[0].programme if choices else None


@dataclass(frozen=True)
class Order:
    entitlement: Entitlement
    amount: int
    category: str | None

    @classmethod
    def from_form(cls, form: Mapping[str, Any], choices: list[Entitlement]) -> Order:
        chosen = next((c for c in choices if c.programme == form.get("programme")), None)
        if chosen is None:
            raise BadOrder("not_eligible")
        raw = str(form.get("amount", "")).strip()
        if not raw.isdigit() or not 0 < int(raw) <= MAX_AMOUNT:
            raise BadOrder("amount_invalid")
        category = None
        if chosen.categories:
            category = str(form.get("category", ""))
            if category not in chosen.categories:
                raise BadOrder("category_not_allowed")
        return cls(chosen, int(raw), category)

    def action_input(self) -> dict[str, Any]:
        if self.entitlement.kind == GOODS:
            return {"amount": self.amount, "items": [{
                "name": category_words(self.category or ""), "category": self.category,
                "quantity": 1, "unit_price": self.amount}]}
        return {"amount": self.amount}


def run(card: Principal, agent: Principal, order: Order, key: str) -> int:
    """Run the order on the citizen's PIN session; the journal entry's id (the receipt)."""
    answer, _ = perform(card, order.entitlement.programme, order.entitlement.action,
                        key or None, lambda action: parse_model(action.input,
                                                                order.action_input()))
    entry_id = int(answer["entry_id"])
    record(session(), action="agent.sale", subject_type="journal_entry",
           subject_id=str(entry_id), principal=agent,
           citizen_id=card.card.citizen_id if card.card else None,
           purpose="agent served the card holder",
           details={"terminal": card.terminal_id, "amount": order.amount,
                    "programme": order.entitlement.programme})
    return entry_id
