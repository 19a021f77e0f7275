"""Importing a registry file: a CSV an admin uploads, which a second admin must approve.

The console does what `POST /approvals/registry-import` does (`backend.approvals.api`),
in two steps so the admin sees what will be asked before asking it:

1. the form (the file, a note): the file is checked the way the API takes it (a CSV,
   not empty, UTF-8, within the hub's body limit, `MAX_CONTENT_LENGTH`), then stored
   under its SHA-256 (`registry_import.store_file`, the API's way); the page says what
   was stored: its name, lines, bytes and the start of its SHA-256. A refused file is
   never stored.
2. the confirmation, once (`once.claim()`): `service.request_approval` with the stored
   file's payload (`registry.import`), which checks the file again and binds its hash.
   The admin is sent to the request's page; nothing is imported until a second admin
   approves it (a registry import always needs one), and approving queues the import
   job (`approvals.py`).
"""

from __future__ import annotations

import io
from typing import Any

from flask import current_app, g, redirect, request, url_for
from flask_babel import gettext as _
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from admin.common.staff import require_staff
from admin.console import once, words
from admin.console.blueprint import ADMINS, admin, blueprint, page
from backend.approvals import service
from backend.bulk import registry_import
from backend.db import session
from backend.errors import ApiError

AREA = "approvals"
Errors = list[dict[str, str]]
MAX_NOTE = service.MAX_NOTE  # the API's ImportQuery.note
CSV_TYPES = frozenset({"text/csv", "application/csv"})
FORM = "console/import_registry.html"
CONFIRM = "console/import_registry_confirm.html"


def size_limit() -> int:
    """The most the hub takes in one request (the API's "at most 4 MiB here")."""
    return int(current_app.config.get("MAX_CONTENT_LENGTH") or 4 << 20)


def _megabytes(size: int) -> str:
    return f"{size / (1 << 20):g}"


def _too_big() -> Errors:
    return [{"field": "file", "text": _("The file must be at most %(mb)s MB. Ask the hub's "
                                        "operator to import a larger file "
                                        "(satukartu approval request-import)",
                                        mb=_megabytes(size_limit()))}]


def _is_csv(upload: FileStorage) -> bool:
    name = (upload.filename or "").lower()
    return name.endswith(".csv") or upload.mimetype in CSV_TYPES


def _read_upload(upload: FileStorage | None) -> tuple[bytes, Errors, int]:
    """The file's bytes, or why it cannot be asked for (no file, not a CSV, too big,
    empty, not UTF-8: the checks the API and the importer make of it) and the status."""
    if upload is None or not upload.filename:
        return b"", [{"field": "file", "text": _("Choose the registry file to import")}], 400
    if not _is_csv(upload):
        return b"", [{"field": "file", "text": _("The file must be a CSV file (.csv)")}], 415
    data = upload.read(size_limit() + 1)
    if len(data) > size_limit():
        return b"", _too_big(), 413
    if not data:
        return b"", [{"field": "file", "text": _("The file is empty. Choose the registry "
                                                 "file with its rows")}], 400
    try:
        data.decode("utf-8-sig")  # how the importer reads it
    except UnicodeDecodeError:
        return b"", [{"field": "file", "text": _("The file must be saved as UTF-8 text. "
                                                 "Save it again as \"CSV UTF-8\"")}], 400
    return data, [], 200


def _note() -> tuple[str, Errors]:
    note = request.form.get("note", "").strip()
    if len(note) > MAX_NOTE:
        return note, [{"field": "note", "text": _("Enter a note of at most %(n)d characters",
                                                  n=MAX_NOTE)}]
    return note, []


def _form(status: int = 200, note: str = "", errors: Errors | None = None) -> tuple[str, int]:
    return page(FORM, status, note=note, errors=errors or [],
                limit_mb=_megabytes(size_limit()))


def _refused(error: ApiError) -> Errors:
    problem = words.refusal(error)
    return [{"field": "file", "text": f"{problem.title}. {problem.next_step}"}]


def _stored() -> dict[str, Any] | None:
    """The stored file's payload as the confirmation sent it back, or None if malformed
    (`request_approval` checks it against the stored file all the same)."""
    form = request.form
    sha256, name = form.get("sha256", ""), form.get("name", "")
    size, lines = form.get("bytes", ""), form.get("lines", "")
    if not registry_import.SHA256.fullmatch(sha256) or not name or \
            not all(n.isdigit() and len(n) < 16 for n in (size, lines)):
        return None
    return {"sha256": sha256, "name": name, "bytes": int(size), "lines": int(lines)}


@blueprint.route("/approvals/import-registry", methods=["GET", "POST"])
def registry_import_page() -> Any:
    """GET: the file and a note. POST step=check: the file stored, what it is.
    POST step=do: the request for a second admin's approval, once."""
    if request.method == "GET":
        return _form()
    note, errors = _note()
    if request.form.get("step") == "do":
        return _ask(note, errors)
    upload = request.files.get("file")
    data, file_errors, status = _read_upload(upload)
    if file_errors or errors:
        return _form(status if file_errors else 400, note, file_errors + errors)
    assert upload is not None
    try:
        payload = registry_import.store_file(io.BytesIO(data), upload.filename or "")
    except ApiError as error:
        return _form(400, note, _refused(error))
    return page(CONFIRM, stored=payload, note=note)


def _ask(note: str, errors: Errors) -> Any:
    payload = _stored()
    if payload is None:
        return _form(400, note, [{"field": "file", "text": _("Choose the registry file to "
                                                             "import")}])
    if errors:
        return _form(400, note, errors)
    repeated = once.claim()
    if repeated is not None:
        return repeated
    try:
        row = service.request_approval(session(), registry_import.KIND, payload, admin(),
                                       note=note)
    except ApiError as error:
        session().rollback()
        return _form(max(error.status, 400), note, _refused(error))
    return once.finish(redirect(url_for("console.approval", request_id=row.id,
                                        done="asked"), 303))


@blueprint.errorhandler(RequestEntityTooLarge)
def _request_too_large(error: RequestEntityTooLarge) -> Any:
    """A body over the hub's limit is refused before any view runs (the CSRF check reads
    the form first): on the import page, the form with the error summary."""
    if request.endpoint != "console.registry_import_page":
        return page("console/problem.html", 413, problem=words.http_problem(413))
    try:
        g.principal = require_staff(ADMINS)
    except HTTPException as gone:
        return gone.get_response()
    return _form(413, "", _too_big())
