"""Staff and roles: list, add, turn off and on, lift a sign-in hold.

The identity domain's functions do the work (`identity.accounts`, the API's: the
username rule, the password policy, the last-admin rule, the audit records), with the
admin as the principal. A first password is either set by the admin or made here and
shown once, on the answer to the POST that made the account; the hub keeps only its
hash.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import redirect, request, url_for
from flask_babel import gettext as _
from pydantic import ValidationError

from admin.console import once, words
from admin.console.blueprint import admin, blueprint, page
from backend.auth.principal import STAFF_ROLES
from backend.db import session
from backend.errors import ApiError
from backend.identity import accounts, ratelimit
from backend.identity.models import StaffAccount
from backend.identity.schemas import StaffCreate
from backend.reasons import Reason

PASSWORD_WAYS = ("generate", "set", "sso")
GENERATED_BYTES = 15  # 20 characters of URL-safe base64: 120 bits

Errors = list[dict[str, str]]


def notice_for(done: str | None) -> str | None:
    found = {"disabled": _("The account is turned off. Its sessions end on their next "
                           "request."),
             "enabled": _("The account is turned on again."),
             "unlocked": _("Sign-in locks and the hold on this account are lifted."),
             "created": _("The account was made."),
             "password_shown": _("That was done already. The first password was shown once, "
                                 "on the first answer.")}
    return found.get(done or "")


def role_choices() -> list[tuple[str, str]]:
    from admin.common.messages import role_words

    return [(role, role_words(role, "staff")) for role in STAFF_ROLES]


def password_choices() -> list[tuple[str, str]]:
    return [("generate", _("Make one now and show it once, to hand over in person")),
            ("set", _("I type it now")),
            ("sso", _("No password: the person signs in with the city's single sign-on"))]


def _held(account: StaffAccount) -> bool:
    return ratelimit.is_held(session(), ratelimit.STAFF_REALM, account.username)


@blueprint.get("/staff")
def staff() -> tuple[str, int]:
    found = accounts.list_staff(session())
    held = {a.username for a in found if _held(a)}
    answer = page("console/staff.html", accounts=found, held=held)
    session().rollback()
    return answer


def _username_rule() -> str:
    return _("Enter a username of 2 to 64 small letters, digits, dots, dashes or "
             "underscores, starting with a letter or digit")


def _field_errors(error: ValidationError) -> Errors:
    texts = {"username": _username_rule(),
             "role": _("Choose a role"),
             "display_name": _("Enter a name of at most 200 characters"),
             "email": _("Enter an e-mail address like name@city.example"),
             "password": _("Enter a password of at most 256 characters")}
    found: Errors = []
    for problem in error.errors():
        name = str(problem["loc"][0]) if problem["loc"] else ""
        if name in texts and not any(e["field"] == name for e in found):
            found.append({"field": name, "text": texts[name]})
    return found


def _new_page(sent: dict[str, Any], errors: Errors, status: int = 200) -> tuple[str, int]:
    return page("console/staff_new.html", status, sent=sent, errors=errors,
                roles=role_choices(), ways=password_choices())


@blueprint.route("/staff/new", methods=["GET", "POST"])
def staff_new() -> Any:
    if request.method == "GET":
        return _new_page({}, [])
    form = request.form
    sent = {"role": form.get("role", ""), "username": form.get("username", "").strip(),
            "display_name": form.get("display_name", "").strip(),
            "email": form.get("email", "").strip(), "way": form.get("way", "")}
    errors: Errors = []
    if sent["way"] not in PASSWORD_WAYS:
        errors.append({"field": "way", "text": _("Choose how the person signs in")})
    password = None
    if sent["way"] == "set":
        password = form.get("password", "")
        if not password:
            errors.append({"field": "password", "text": _("Enter the password")})
    elif sent["way"] == "generate":
        password = secrets.token_urlsafe(GENERATED_BYTES)
    try:
        body = StaffCreate.model_validate({
            "username": sent["username"], "role": sent["role"],
            "display_name": sent["display_name"], "email": sent["email"] or None,
            "password": password})
    except ValidationError as error:
        errors = _field_errors(error) + errors
        body = None
    if not accounts.USERNAME.fullmatch(accounts.normalise_username(sent["username"])) \
            and not any(e["field"] == "username" for e in errors):  # the domain's rule
        errors.insert(0, {"field": "username", "text": _username_rule()})
    order = ("role", "username", "display_name", "email", "way", "password")
    errors.sort(key=lambda e: order.index(e["field"]) if e["field"] in order else len(order))
    if errors or body is None:
        return _new_page(sent, errors, 400)
    repeated = once.claim()
    if repeated is not None:
        return repeated
    try:
        account = accounts.create_staff(session(), username=body.username, role=body.role,
                                        display_name=body.display_name, email=body.email,
                                        password=body.password, principal=admin())
    except ApiError as error:
        session().rollback()
        problem = words.refusal(error)
        if error.reason == Reason.VALIDATION_FAILED:  # the username rule of the domain
            field, text = "username", _username_rule()
        else:
            field, text = problem.field or "", f"{problem.title}. {problem.next_step}"
        return _new_page(sent, [{"field": field, "text": text}], max(error.status, 400))
    if sent["way"] == "generate":
        shown = page("console/staff_created.html", account=account, password=password,
                     switch_language=False)
        return once.finish(shown, url_for("console.staff_account", username=account.username,
                                          done="password_shown"))
    return once.finish(redirect(url_for("console.staff_account", username=account.username,
                                        done="created"), 303))


@blueprint.get("/staff/<username>")
def staff_account(username: str) -> tuple[str, int]:
    account = accounts.get_staff(session(), username)
    answer = page("console/staff_account.html", account=account, held=_held(account),
                  notice=notice_for(request.args.get("done")))
    session().rollback()
    return answer


@blueprint.route("/staff/<username>/disable", methods=["GET", "POST"])
def staff_disable(username: str) -> Any:
    account = accounts.get_staff(session(), username)
    if request.method == "GET":
        answer = page("console/staff_disable.html", account=account)
        session().rollback()
        return answer
    repeated = once.claim()
    if repeated is not None:
        return repeated
    try:
        accounts.set_staff_enabled(session(), account.username, False, principal=admin())
    except ApiError as error:
        session().rollback()
        problem = words.refusal(error)
        account = accounts.get_staff(session(), username)
        answer = page("console/staff_disable.html", error.status, account=account,
                      errors=[{"field": "", "text": f"{problem.title}. {problem.next_step}"}])
        session().rollback()
        return answer
    return once.finish(redirect(url_for("console.staff_account", username=account.username,
                                        done="disabled"), 303))


def _simple_step(username: str, act: Any, done: str) -> Any:
    account = accounts.get_staff(session(), username)
    repeated = once.claim()
    if repeated is not None:
        return repeated
    act(account.username)
    return once.finish(redirect(url_for("console.staff_account", username=account.username,
                                        done=done), 303))


@blueprint.post("/staff/<username>/enable")
def staff_enable(username: str) -> Any:
    return _simple_step(username, lambda name: accounts.set_staff_enabled(
        session(), name, True, principal=admin()), "enabled")


@blueprint.post("/staff/<username>/unlock")
def staff_unlock(username: str) -> Any:
    return _simple_step(username, lambda name: accounts.unlock_staff(
        session(), name, principal=admin()), "unlocked")
