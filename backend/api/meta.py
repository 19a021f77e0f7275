"""Endpoints about the API itself: health and the OpenAPI document."""

from __future__ import annotations

from flask import jsonify
from sqlalchemy import text

from backend.api.openapi import build_spec
from backend.api.routing import Api, OutModel
from backend.auth.principal import PUBLIC
from backend.db import session

api = Api("meta", tag="meta")


class Health(OutModel):
    status: str
    database: str


@api.route("/health", summary="Liveness and database reachability", auth=PUBLIC,
           response=Health)
def health() -> Health:
    session().execute(text("SELECT 1"))
    return Health(status="ok", database=session().get_bind().dialect.name)


@api.route("/openapi.json", summary="This document", auth=PUBLIC)
def openapi() -> object:
    return jsonify(build_spec())
