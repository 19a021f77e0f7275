"""Programmes: what runs, with which amounts and eligibility rules, and their changes.

The pages show what `backend.programmes.settings` describes (`list_programmes`,
`describe`, `history`) and change a programme the way `PATCH /programmes/<key>` does:
through `settings.apply_change`, with the admin as the principal. Turning a programme
on or off is direct (and audited), after a confirmation. A new amount or eligibility
rule is refused by `apply_change` with `approval_required` and the very request to
submit; the page submits it (`approvals.service.request_approval`, kind
`programme.change`), so it takes effect only once a second admin approves it and it
is carried out. A value the module refuses comes back as `validation_failed`, named
per parameter: it is shown beside its field, never as a server error.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from admin.common.i18n import language
from admin.console import once, words
from admin.console.blueprint import admin, blueprint, page
from backend.approvals import service as approvals
from backend.db import session
from backend.errors import ApiError
from backend.programmes import settings
from backend.reasons import Reason

MAX_VALUE = settings.MAX_VALUE_LENGTH
MAX_NOTE = 500
PREFIX = "p-"
SOURCE = {"default": _l("The programme's default"),
          "config": _l("The city's configuration"),
          "database": _l("Changed by an administrator")}
NOTICES = {"enabled": _l("The programme is turned on. Kiosks, counters and agents offer it "
                         "again within a minute."),
           "disabled": _l("The programme is turned off. Kiosks, counters and agents stop "
                          "offering it within a minute, and its actions are refused."),
           "changed": _l("The change is made.")}

Errors = list[dict[str, str]]


def source_words(source: str) -> str:
    return str(SOURCE.get(source, source))


def title_of(view: settings.ProgrammeView) -> str:
    """The programme's name in the reader's language, else its English name."""
    return view.titles.get(language()) or view.title


@blueprint.context_processor
def _programme_words() -> dict[str, Any]:
    return {"programme_title": title_of, "param_source": source_words,
            "PARAM_PREFIX": PREFIX}


def _approval_link(request_id: int) -> str | None:
    """The approval's console page, if the console has one."""
    if "console.approval" in current_app.view_functions:
        return url_for("console.approval", request_id=request_id)
    return None


@blueprint.get("/programmes")
def programmes() -> tuple[str, int]:
    found = settings.list_programmes(session())
    session().rollback()
    return page("console/programmes.html", programmes=found)


def _asked_notice() -> tuple[str | None, str | None]:
    """After a change was sent for approval: the words, and the approval's page."""
    asked = request.args.get("approval", "")
    if request.args.get("done") != "asked" or not asked.isdigit() or len(asked) > 12:
        return None, None
    return (_("A second administrator must approve this change before it takes effect. "
              "Nothing has changed yet. The request is number %(n)s.", n=asked),
            _approval_link(int(asked)))


@blueprint.get("/programmes/<key>")
def programme(key: str) -> tuple[str, int]:
    view = settings.describe(key, session())
    changes = settings.history(key, session())
    session().rollback()
    asked, approval_href = _asked_notice()
    done = request.args.get("done") or ""
    notice = asked or (str(NOTICES[done]) if done in NOTICES else None)
    return page("console/programme.html", programme=view, changes=changes, notice=notice,
                approval_href=approval_href)


def _refused(error: ApiError) -> Errors:
    """A refusal in words; a refused parameter beside its field."""
    found = [{"field": PREFIX + str(item.get("field", "")).removeprefix("parameters."),
              "text": _("%(name)s: this value is not accepted (%(problem)s)",
                        name=str(item.get("field", "")).removeprefix("parameters."),
                        problem=item.get("problem", ""))}
             for item in (error.details or {}).get("errors", [])
             if str(item.get("field", "")).startswith("parameters.")]
    if found:
        return found
    if error.reason == Reason.VALIDATION_FAILED:
        return [{"field": "", "text": _("The programme cannot be changed that way: %(why)s",
                                        why=error.message)}]
    problem = words.refusal(error)
    return [{"field": "", "text": f"{problem.title}. {problem.next_step}"}]


# --- on and off ---------------------------------------------------------------------


def _switch(key: str, enabled: bool) -> Any:
    """GET says what will happen; POST turns it on or off once, directly, as the API."""
    template = "console/programme_switch.html"
    view = settings.describe(key, session())
    if request.method == "GET":
        session().rollback()
        return page(template, programme=view, turning_on=enabled)
    repeated = once.claim()
    if repeated is not None:
        return repeated
    try:
        settings.apply_change(session(), view.key, enabled=enabled, parameters={},
                              principal=admin())
    except ApiError as error:
        session().rollback()
        return page(template, max(error.status, 400), programme=settings.describe(key),
                    turning_on=enabled, errors=_refused(error))
    return once.finish(redirect(url_for("console.programme", key=view.key,
                                        done="enabled" if enabled else "disabled"), 303))


@blueprint.route("/programmes/<key>/turn-off", methods=["GET", "POST"])
def programme_disable(key: str) -> Any:
    return _switch(key, False)


@blueprint.route("/programmes/<key>/turn-on", methods=["GET", "POST"])
def programme_enable(key: str) -> Any:
    return _switch(key, True)


# --- amounts and eligibility ----------------------------------------------------------


def _asked_values(view: settings.ProgrammeView) -> tuple[dict[str, str], Errors]:
    """The form's value of each parameter, and what is wrong with their shape (the API
    takes printable text of at most 200 characters; what the value means is the
    module's to judge)."""
    sent = {p.name: request.form.get(PREFIX + p.name, "").strip() for p in view.parameters}
    errors: Errors = []
    for name, value in sent.items():
        if not value:
            errors.append({"field": PREFIX + name, "text": _("Enter a value for %(name)s",
                                                             name=name)})
        elif len(value) > MAX_VALUE or not value.isprintable():
            errors.append({"field": PREFIX + name, "text": _(
                "Enter a value for %(name)s of at most 200 letters and digits", name=name)})
    return sent, errors


def _note() -> tuple[str, Errors]:
    note = request.form.get("note", "").strip()
    if len(note) > MAX_NOTE or not note.replace("\n", " ").replace("\r", " ").isprintable():
        return note, [{"field": "note", "text": _("Enter a note of at most 500 characters")}]
    return note, []


def _change_form(view: settings.ProgrammeView, status: int = 200,
                 sent: dict[str, str] | None = None, note: str = "",
                 errors: Errors | None = None) -> tuple[str, int]:
    values = sent if sent is not None else {p.name: p.value for p in view.parameters}
    return page("console/programme_change.html", status, programme=view, sent=values,
                note=note, errors=errors or [])


@blueprint.route("/programmes/<key>/change", methods=["GET", "POST"])
def programme_change(key: str) -> Any:
    """New amounts or eligibility rules: sent for a second admin's approval when the
    back end says they need one (it does for every amount and rule)."""
    view = settings.describe(key, session())
    session().rollback()
    if request.method == "GET":
        return _change_form(view)
    sent, errors = _asked_values(view)
    note, note_errors = _note()
    errors += note_errors
    changes = {p.name: sent[p.name] for p in view.parameters
               if sent[p.name] and sent[p.name] != p.value}
    if not errors and not changes:
        errors.append({"field": PREFIX + view.parameters[0].name if view.parameters else "",
                       "text": _("Change at least one value, or go back")})
    if errors:
        return _change_form(view, 400, sent, note, errors)
    return _send_change(view, sent, note, changes)


def _send_change(view: settings.ProgrammeView, sent: dict[str, str], note: str,
                 changes: dict[str, str]) -> Any:
    repeated = once.claim()
    if repeated is not None:
        return repeated
    try:
        asked = _apply_or_ask(view.key, changes, note)
    except ApiError as error:
        session().rollback()
        return _change_form(settings.describe(view.key), max(error.status, 400), sent, note,
                            _refused(error))
    target = url_for("console.programme", key=view.key, done="asked", approval=asked) \
        if asked is not None else url_for("console.programme", key=view.key, done="changed")
    return once.finish(redirect(target, 303))


def _apply_or_ask(key: str, changes: dict[str, str], note: str) -> int | None:
    """Make the change as the API does; when the back end says it needs a second admin,
    submit the request it names instead. The approval request's id, or None if made."""
    try:
        settings.apply_change(session(), key, enabled=None, parameters=changes,
                              principal=admin())
        return None
    except ApiError as error:
        if error.reason != Reason.APPROVAL_REQUIRED:
            raise
        details = error.details or {}
        row = approvals.request_approval(session(), str(details.get("kind", settings.KIND)),
                                         details.get("payload"), admin(), note=note)
        return row.id
