"""Request a civil document: which one, what a letter is for, check, issue, print.

The document is issued by `civil_documents` on the citizen's PIN session (the daily
quota, the family card and the signature are the module's); the counter then offers
the signed PDF to print or save. Only a document of the citizen whose card is in the
reader can be opened here.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import Response, redirect, request, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response as BaseResponse

from admin.counter.screen import (
    answers,
    blueprint,
    card,
    counter_advice,
    finish,
    finished,
    page,
    remember,
    run,
)
from admin.counter.words import DOCUMENTS, LETTER_PURPOSES
from backend.api.routing import commit
from backend.auth.principal import Principal
from backend.db import session
from backend.documents import verification
from backend.documents.models import IssuedDocument
from backend.errors import ApiError

FORM = "document"
PURPOSE = "document"
MODULE = "civil_documents"


def _kinds() -> list[tuple[str, Any, None]]:
    return [(code, label, None) for code, label in DOCUMENTS.items()]


def _purposes() -> list[tuple[str, Any, None]]:
    return [(code, label, None) for code, (_letter, label) in LETTER_PURPOSES.items()]


@blueprint.get("/documents")
def documents() -> str:
    principal = card()
    return page("counter/document_kind.html", options=_kinds(),
                chosen=answers(principal, FORM).get("kind"))


@blueprint.post("/documents")
def documents_kind() -> BaseResponse | tuple[str, int]:
    principal = card()
    kind = request.form.get("kind", "")
    if kind not in DOCUMENTS:
        errors = [{"field": "kind-domicile_letter",
                   "text": _("Choose which document the citizen needs")}]
        return page("counter/document_kind.html", options=_kinds(), chosen=None,
                    errors=errors), 400
    remember(principal, FORM, kind=kind)
    if kind == "domicile_letter":
        return redirect(url_for("counter.documents_purpose"), 303)
    remember(principal, FORM, purpose=None)
    return redirect(url_for("counter.documents_check"), 303)


@blueprint.get("/documents/purpose")
def documents_purpose() -> str:
    principal = card()
    return page("counter/document_purpose.html", options=_purposes(),
                chosen=answers(principal, FORM).get("purpose"))


@blueprint.post("/documents/purpose")
def documents_purpose_answer() -> BaseResponse | tuple[str, int]:
    principal = card()
    chosen = request.form.get("purpose", "")
    if chosen not in LETTER_PURPOSES:
        errors = [{"field": "purpose-general", "text": _("Choose what the letter is for")}]
        return page("counter/document_purpose.html", options=_purposes(), chosen=None,
                    errors=errors), 400
    remember(principal, FORM, purpose=chosen)
    return redirect(url_for("counter.documents_check"), 303)


def _ready(given: dict[str, Any]) -> bool:
    return given.get("kind") in DOCUMENTS and (given["kind"] != "domicile_letter"
                                               or given.get("purpose") in LETTER_PURPOSES)


def _check(principal: Principal, errors: list[dict[str, Any]] | None = None) -> str:
    given = answers(principal, FORM)
    return page("counter/document_check.html", kind=given.get("kind"),
                purpose=given.get("purpose"), errors=errors or [],
                key=secrets.token_urlsafe(18))


@blueprint.get("/documents/check")
def documents_check() -> BaseResponse | str:
    principal = card()
    if not _ready(answers(principal, FORM)):
        return redirect(url_for("counter.documents"), 303)
    return _check(principal)


@blueprint.post("/documents/check")
def documents_issue() -> BaseResponse | tuple[str, int]:
    principal = card()
    key = request.form.get("key")
    if done := finished(principal, key):
        return redirect(done, 303)
    given = answers(principal, FORM)
    if not _ready(given):
        return redirect(url_for("counter.documents"), 303)
    asked = {"purpose": LETTER_PURPOSES[given["purpose"]][0]} \
        if given["kind"] == "domicile_letter" else {}
    try:
        answer = run(principal, PURPOSE, MODULE, given["kind"], key, asked)
        commit()
    except ApiError as error:
        session().rollback()
        found = counter_advice(error.reason.value)
        return _check(principal, [{"field": None,
                                   "text": f"{found.title}. {found.next_step}"}]), error.status
    return redirect(finish(principal, FORM, key, url_for(
        "counter.document", public_id=answer["document"]["public_id"])), 303)


def _own(principal: Principal, public_id: str) -> IssuedDocument:
    """The card holder's own document, else not found (never another citizen's)."""
    assert principal.card is not None
    try:
        document = verification.find(session(), public_id)
    except ApiError as error:
        raise NotFound() from error
    if document.citizen_id != principal.card.citizen_id:
        raise NotFound()
    return document


@blueprint.get("/documents/<public_id>")
def document(public_id: str) -> str:
    principal = card()
    found = _own(principal, public_id)
    session().rollback()
    return page("counter/document_ready.html", document=found)


@blueprint.get("/documents/<public_id>.pdf")
def document_pdf(public_id: str) -> Response:
    principal = card()
    found = _own(principal, public_id)
    pdf = verification.pdf_of(session(), found)
    commit()
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{found.number}.pdf"'})
