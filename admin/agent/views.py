"""The agent's point of sale: the card and PIN choose the beneficiary, the agent keys
only the amount, and a receipt prints on confirmation.

The agent signs in once per shift (a staff account of role agent): the password, and
for an account with TOTP its one-time code on a second page, as on the staff sign-in
(the same steps of `backend.identity.signin`, the same half sign-in kept in the session:
`admin/common/pending_sign_in.py`). The redemption itself runs on the citizen's PIN
session at this agent terminal, through the same `perform` as the API, so the
programme's rules (categories, caps, balance, expiry) and the ledger's are the ones
that decide. Who served is written beside it in the audit log.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, current_app, g, redirect, request, session, url_for
from werkzeug.wrappers import Response as BaseResponse

from admin.agent import offline, sale
from admin.common import receipt_pages, render, screen_blueprint, visit
from admin.common.messages import advice
from admin.common.pending_sign_in import MAX_CODE, drop, hold, pending
from admin.common.receipt_pages import receipt_view
from admin.common.sessions import (
    STAFF_COOKIE,
    Gone,
    clear_cookie,
    require_card,
    set_cookie,
    staff_principal,
)
from admin.staff.words import staff_advice
from backend.api.routing import commit
from backend.auth.principal import Principal
from backend.db import session as db_session
from backend.documents import receipts
from backend.errors import ApiError
from backend.identity import accounts, signin
from backend.ledger import settlement
from backend.reasons import Reason

blueprint = screen_blueprint("agent", __name__, "/agent")
AGENT = ("agent",)
SCREEN = "agent"


def _staff() -> Principal:
    """The signed-in agent, resolved once per request (the bar shows them too)."""
    principal = g.get("agent") or staff_principal(AGENT)
    if principal is None:
        raise Gone(url_for("agent.idle"))
    g.agent = principal
    return principal


def _card() -> Principal:
    _staff()
    return require_card(AGENT, "agent.idle", "pin")


def _page(template: str, **context: Any) -> str:
    """An agent page; the words of the offline sale ride along (agent/offline_panel.html)."""
    return render(template, SCREEN, accept="pin",
                  agent=g.get("agent") or staff_principal(AGENT),
                  refusals=offline.refusal_words(), categories=offline.category_names(),
                  **context)


@blueprint.get("/")
def idle() -> str:
    reason = request.args.get("problem")
    # The sign-in's own refusals (a code page that took too long) and the common ones.
    problem = staff_advice(reason) if reason else None
    if staff_principal(AGENT) is None:
        return _page("agent/sign_in.html", problem=problem, errors=[])
    return _page("agent/idle.html", problem=problem)


def _shift() -> int:
    return int(current_app.config["AGENT_SHIFT_HOURS"]) * 3600


@blueprint.post("/sign-in")
def sign_in() -> BaseResponse:
    """The password; an account with TOTP goes on to the code page, signed in as nobody."""
    username = request.form.get("username", "").strip()[:200]
    password = request.form.get("password", "")[:1000]
    errors = []
    if not username:
        errors.append({"field": "username", "text": advice("invalid_credentials").next_step})
    try:
        result = signin.first_factor(username, password, request.remote_addr, ttl=_shift()) \
            if username and password else None
    except ApiError as error:
        db_session().rollback()
        found = advice(error.reason.value)
        errors.append({"field": "password", "text": f"{found.title}. {found.next_step}"})
        result = None
    if result is None or result.role != "agent":
        if not errors:
            errors.append({"field": "password", "text": str(advice("invalid_credentials")
                                                             .title)})
        db_session().rollback()
        page = _page("agent/sign_in.html", errors=errors, username=username, problem=None)
        return Response(page, status=400)
    if isinstance(result, signin.NeedsCode):
        commit()  # the password's new hash, if argon2's parameters moved on
        hold(result, SCREEN)
        return redirect(url_for("agent.code"), 303)
    return _signed_in(result)


def _signed_in(signed: signin.SignedIn) -> BaseResponse:
    """The end of the agent's sign-in: the staff cookie for the shift, and the idle page."""
    commit()
    drop()
    response = redirect(url_for("agent.idle"), 303)
    set_cookie(response, STAFF_COOKIE, signed.issued.token, max_age=signed.issued.expires_in)
    return response


def _start_again(problem: str) -> BaseResponse:
    drop()
    return redirect(url_for("agent.idle", problem=problem), 303)


def _code_page(reason: str) -> Response:
    found = staff_advice(reason)
    errors = [{"field": "code", "text": f"{found.title}. {found.next_step}"}]
    return Response(_page("agent/code.html", errors=errors), status=400)


@blueprint.get("/sign-in/code")
def code() -> BaseResponse | str:
    """The one-time code of an agent whose password was right a few minutes ago."""
    if pending(SCREEN) is None:
        return _start_again("code_expired")
    return _page("agent/code.html", errors=[])


@blueprint.post("/sign-in/code")
def code_post() -> BaseResponse:
    held = pending(SCREEN)
    if held is None or held.role != "agent":
        return _start_again("code_expired")
    typed = request.form.get("code", "")[:MAX_CODE]
    if not typed.strip():
        return _code_page("missing_code")
    try:
        signed = signin.second_factor(held, typed, request.remote_addr, ttl=_shift())
    except ApiError as error:
        db_session().rollback()
        if error.reason is Reason.INVALID_CREDENTIALS:
            return _start_again("sign_in_again")
        return _code_page(error.reason.value)
    if signed.role != "agent":  # the account's role changed since its password
        db_session().rollback()
        return _start_again("sign_in_again")
    return _signed_in(signed)


@blueprint.post("/sign-out")
def sign_out() -> BaseResponse:
    """The shift's sign-in ends at the hub too: the cookie alone would outlive the agent."""
    staff = staff_principal(AGENT)
    if staff is not None:
        accounts.end_staff_tokens(db_session(), accounts.get_staff(db_session(),
                                                                   staff.subject).id)
        commit()
    response = redirect(url_for("agent.idle"), 303)
    clear_cookie(response, STAFF_COOKIE)
    session.pop(visit.TERMINAL_KEY, None)
    return response


@blueprint.get("/pin")
def pin() -> str:
    _staff()
    return _page("agent/pin.html", needs_card=False)


@blueprint.post("/session")
def hand_over() -> Response:
    _staff()
    return visit.hand_over(AGENT, "agent.sale_page", assurance="pin",
                           citizens_language=False)


@blueprint.post("/end")
def end() -> Response:
    return visit.end_visit(AGENT, "agent.idle", citizens_language=False)


@blueprint.get("/sale")
def sale_page() -> str:
    principal = _card()
    options = sale.options(principal)
    db_session().rollback()
    chosen = request.args.get("programme") or sale.preselected(options)
    return _page("agent/sale.html", needs_card=True, options=options, chosen=chosen,
                 amount=request.args.get("amount", ""),
                 category=request.args.get("category", ""),
                 problem=_problem())


def _problem() -> Any:
    reason = request.args.get("problem")
    return advice(reason) if reason else None


@blueprint.get("/confirm")
def confirm() -> BaseResponse | str:
    principal = _card()
    options = sale.options(principal)
    db_session().rollback()
    try:
        order = sale.Order.from_form(request.args, options)
    except sale.BadOrder as bad:
        answers: dict[str, Any] = request.args.to_dict()  # each name's first value
        return redirect(url_for("agent.sale_page", problem=bad.reason, **answers), 303)
    return _page("agent/confirm.html", needs_card=True, order=order,
                 key=secrets.token_urlsafe(18))


@blueprint.post("/redeem")
def redeem() -> BaseResponse:
    principal = _card()
    staff = _staff()
    options = sale.options(principal)
    try:
        order = sale.Order.from_form(request.form, options)
        entry_id = sale.run(principal, staff, order, request.form.get("key", ""))
    except sale.BadOrder as bad:
        db_session().rollback()
        return redirect(url_for("agent.sale_page", problem=bad.reason), 303)
    except ApiError as error:
        db_session().rollback()
        return redirect(url_for("agent.sale_page", problem=error.reason.value,
                                programme=request.form.get("programme")), 303)
    commit()
    return redirect(url_for("agent.receipt", entry_id=entry_id, fresh=1), 303)


def _own_receipt(entry_id: int) -> receipts.EntryFacts:
    _staff()
    facts = receipts.entry_facts(db_session(), entry_id)
    if facts is None or facts.entry.terminal_id != session.get(visit.TERMINAL_KEY):
        raise Gone(url_for("agent.idle"))
    return facts


@blueprint.get("/receipt/<int:entry_id>")
def receipt(entry_id: int) -> str:
    shown = receipt_view(_own_receipt(entry_id), entry_id, _staff().subject)
    db_session().rollback()
    return _page("agent/receipt.html", receipt=shown, fresh=request.args.get("fresh") == "1")


@blueprint.get("/receipt/<int:entry_id>.pdf")
def receipt_pdf(entry_id: int) -> Response:
    _own_receipt(entry_id)
    response = receipt_pages.receipt_pdf(db_session(), entry_id, f"struk-{entry_id}.pdf")
    commit()
    return response


def _today() -> Any:
    return datetime.now(ZoneInfo(current_app.config["CITY_TIMEZONE"])).date()


@blueprint.get("/day")
def day() -> str:
    _staff()
    terminal = session.get(visit.TERMINAL_KEY)
    groups = settlement.takings(db_session(), terminal, _today(),
                                current_app.config["CITY_TIMEZONE"]) if terminal else []
    db_session().rollback()
    return _page("agent/day.html", terminal=terminal, groups=groups,
                 notice=request.args.get("notice"), problem=_problem())


@blueprint.post("/day")
def close_day() -> BaseResponse:
    staff = _staff()
    terminal = session.get(visit.TERMINAL_KEY)
    if not terminal:
        return redirect(url_for("agent.day"), 303)
    try:
        settlement.close_day(db_session(), terminal, _today(),
                             current_app.config["CITY_TIMEZONE"], f"staff:{staff.subject}",
                             staff)
    except ApiError as error:
        db_session().rollback()
        return redirect(url_for("agent.day", problem=error.reason.value), 303)
    commit()
    return redirect(url_for("agent.day", notice="settled"), 303)
