"""Pay out a stipend: which programme (when there are several), how much, check, pay.

The cash comes from a cashable purse through the programme's own `withdraw` action on
the citizen's PIN session (education's stipend, and any other programme that pays out
at a counter). The amount is checked on its page (a whole number, above zero, no more
than the balance) with an error summary, and the programme decides again when it
runs; a refused amount writes nothing. The receipt is the agent's receipt, printed at
the counter.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from flask import Response, redirect, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup
from werkzeug.wrappers import Response as BaseResponse

from admin.common import i18n, receipt_pages
from admin.common.receipt_pages import receipt_view
from admin.counter.screen import (
    BOUND_KEY,
    answers,
    blueprint,
    card,
    clerk,
    counter_advice,
    finish,
    finished,
    page,
    read,
    remember,
    run,
)
from backend.api.routing import commit
from backend.auth.principal import Principal
from backend.db import session
from backend.documents import receipts
from backend.errors import ApiError
from backend.services.authorise import allowed_here
from backend.services.catalogue import modules
from backend.services.context import HubContext

FORM = "payout"
PURPOSE = "payout"
ACTION = "withdraw"
MAX_AMOUNT = 999_999_999


@dataclass(frozen=True)
class Payable:
    programme: str
    balance: int


def payables(principal: Principal) -> list[Payable]:
    """The card holder's cashable balances this counter may pay out, by programme."""
    assert principal.card is not None
    found = []
    for key, module in modules().items():
        action = module.actions.get(ACTION)
        if action is None or not allowed_here(action, principal):
            continue
        ctx = HubContext(session(), module, principal, principal.card.citizen_id)
        balance = 0
        for purse, rule in module.purses.items():
            if not rule.cashable:
                continue
            try:
                if ctx.account_id(purse) is not None:
                    balance += ctx.balance(purse)
            except ApiError:  # a household purse without a household: nothing to pay
                continue
        found.append(Payable(key, balance))
    return sorted(found, key=lambda p: (p.balance <= 0, p.programme))


def _balances(principal: Principal) -> tuple[list[Payable], Payable | None]:
    """The balances (a read of the citizen's data, recorded) and the one chosen so far."""
    found = payables(principal)
    read(principal, PURPOSE, ("balances",))
    programme = answers(principal, FORM).get("programme")
    return found, next((p for p in found if p.programme == programme), None)


def _with_money(found: list[Payable]) -> list[Payable]:
    return [p for p in found if p.balance > 0]


def _options(found: list[Payable]) -> list[tuple[str, Markup, str]]:
    """The radios: the programme's name and, beside it, its balance."""
    from backend.documents.receipts import programme_title

    return [(p.programme, Markup('<span translate="no">{}</span>').format(
        programme_title(p.programme, i18n.language())), i18n.money(p.balance))
        for p in _with_money(found)]


@blueprint.get("/payout")
def payout() -> BaseResponse | str:
    principal = card()
    found, _chosen = _balances(principal)
    commit()
    if len(_with_money(found)) == 1:
        remember(principal, FORM, programme=_with_money(found)[0].programme)
        return redirect(url_for("counter.payout_amount"), 303)
    return page("counter/payout_programme.html", payables=found, options=_options(found),
                chosen=answers(principal, FORM).get("programme"))


@blueprint.post("/payout")
def payout_programme() -> BaseResponse | tuple[str, int]:
    principal = card()
    found, _chosen = _balances(principal)
    commit()
    chosen = request.form.get("programme", "")
    if chosen not in {p.programme for p in _with_money(found)}:
        first = next((p.programme for p in _with_money(found)), "none")
        errors = [{"field": f"programme-{first}", "text": _("Choose what to pay out")}]
        return page("counter/payout_programme.html", payables=found, options=_options(found),
                    chosen=None, errors=errors), 400
    remember(principal, FORM, programme=chosen)
    return redirect(url_for("counter.payout_amount"), 303)


def amount_problem(raw: str, balance: int) -> str | None:
    """What is wrong with the amount typed, in words the clerk can act on."""
    text = amount_digits(raw)
    if not text:
        return _("Enter the amount to pay out")
    if not text.isdigit():
        return _("The amount must be a whole number, like 150000")
    amount = int(text)
    if amount <= 0 or amount > MAX_AMOUNT:
        return _("The amount must be more than 0")
    if amount > balance:
        return _("The amount must not be more than the balance")
    return None


def amount_digits(raw: str) -> str:
    """The amount as typed without the separators people write (150.000, 150,000)."""
    return raw.strip().replace(".", "").replace(",", "").replace(" ", "")


def _amount_page(found: list[Payable], chosen: Payable, amount: Any,
                 errors: list[dict[str, Any]] | None = None) -> str:
    back = url_for("counter.citizen") if len(_with_money(found)) <= 1 else url_for(
        "counter.payout")
    return page("counter/payout_amount.html", payable=chosen, back=back, amount=amount,
                errors=errors or [])


@blueprint.get("/payout/amount")
def payout_amount() -> BaseResponse | str:
    principal = card()
    found, chosen = _balances(principal)
    commit()
    if chosen is None:
        return redirect(url_for("counter.payout"), 303)
    return _amount_page(found, chosen, answers(principal, FORM).get("amount", ""))


@blueprint.post("/payout/amount")
def payout_amount_answer() -> BaseResponse | tuple[str, int]:
    principal = card()
    found, chosen = _balances(principal)
    commit()
    if chosen is None:
        return redirect(url_for("counter.payout"), 303)
    raw = request.form.get("amount", "")[:40]
    problem = amount_problem(raw, chosen.balance)
    if problem:
        return _amount_page(found, chosen, raw, [{"field": "amount", "text": problem}]), 400
    remember(principal, FORM, amount=int(amount_digits(raw)))
    return redirect(url_for("counter.payout_check"), 303)


def _check(principal: Principal, errors: list[dict[str, Any]] | None = None) -> str:
    _found, chosen = _balances(principal)
    commit()
    return page("counter/payout_check.html", payable=chosen,
                amount=answers(principal, FORM).get("amount"), errors=errors or [],
                key=secrets.token_urlsafe(18))


@blueprint.get("/payout/check")
def payout_check() -> BaseResponse | str:
    principal = card()
    given = answers(principal, FORM)
    if not given.get("programme") or not given.get("amount"):
        return redirect(url_for("counter.payout"), 303)
    return _check(principal)


@blueprint.post("/payout/check")
def payout_pay() -> BaseResponse | tuple[str, int]:
    principal = card()
    key = request.form.get("key")
    if done := finished(principal, key):
        return redirect(done, 303)
    given = answers(principal, FORM)
    if not given.get("programme") or not isinstance(given.get("amount"), int):
        return redirect(url_for("counter.payout"), 303)
    try:
        answer = run(principal, PURPOSE, given["programme"], ACTION, key,
                     {"amount": given["amount"]})
        commit()
    except ApiError as error:
        session().rollback()
        found = counter_advice(error.reason.value)
        return _check(principal, [{"field": None,
                                   "text": f"{found.title}. {found.next_step}"}]), error.status
    return redirect(finish(principal, FORM, key, url_for(
        "counter.receipt", entry_id=int(answer["entry_id"]), fresh=1)), 303)


def _own_receipt(entry_id: int) -> receipts.EntryFacts:
    """A receipt of this counter only (the clerk's bound terminal)."""
    from flask import session as browser
    from werkzeug.exceptions import NotFound

    clerk()
    facts = receipts.entry_facts(session(), entry_id)
    if facts is None or facts.entry.terminal_id != browser.get(BOUND_KEY):
        raise NotFound()
    return facts


@blueprint.get("/receipt/<int:entry_id>")
def receipt(entry_id: int) -> str:
    shown = receipt_view(_own_receipt(entry_id), entry_id, clerk().subject)
    session().rollback()
    return page("counter/receipt.html", needs_card=True, receipt=shown,
                fresh=request.args.get("fresh") == "1")


@blueprint.get("/receipt/<int:entry_id>.pdf")
def receipt_pdf(entry_id: int) -> Response:
    _own_receipt(entry_id)
    response = receipt_pages.receipt_pdf(session(), entry_id, f"kuitansi-{entry_id}.pdf")
    commit()
    return response
