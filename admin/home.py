"""The hub's home page: what is running, in numbers, and the API reference.

Public, so it shows counts and configuration only, never a person's data.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template
from sqlalchemy import func, select

from backend.api.openapi import build_spec
from backend.db import Base, session

blueprint = Blueprint("home", __name__, template_folder="templates", static_folder="static",
                      static_url_path="/static/admin")

COUNTED_TABLES = (("citizens", "citizens"), ("households", "households"), ("cards", "cards"),
                  ("audit records", "audit_records"), ("journal entries", "journal_entries"))


def _counts() -> list[tuple[str, int]]:
    tables = Base.metadata.tables
    counts = []
    for label, name in COUNTED_TABLES:
        if name in tables:
            counts.append((label, session().scalar(select(func.count()).select_from(
                tables[name])) or 0))
    return counts


def _services() -> list[dict[str, Any]]:
    from backend.services.catalogue import modules

    return [{"key": m.key, "title": m.title_in("en")} for m in modules().values()]


@blueprint.get("/")
def index() -> str:
    return render_template("home.html", counts=_counts(), services=_services(),
                           origin=current_app.config["ORIGIN"],
                           database=session().get_bind().dialect.name)


@blueprint.get("/api")
def api_reference() -> str:
    spec = build_spec()
    operations = [
        {"method": method.upper(), "path": path, "summary": op.get("summary", ""),
         "access": op.get("x-satukartu-access", ""), "tag": (op.get("tags") or [""])[0]}
        for path, ops in sorted(spec["paths"].items()) for method, op in ops.items()
    ]
    return render_template("api.html", operations=operations)
