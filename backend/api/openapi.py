"""The OpenAPI 3.1 document, built from the operations the routes declared."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from backend.api.routing import MAX_INT, OPERATIONS, Header, Operation
from backend.reasons import Reason

_CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")
_PARAM_TYPES = {"int": {"type": "integer", "minimum": 0, "maximum": MAX_INT},
                "string": {"type": "string"},
                None: {"type": "string"}, "uuid": {"type": "string", "format": "uuid"},
                "path": {"type": "string"}}
REF = "#/components/schemas/{model}"


def _error_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {
            "type": "object",
            "required": ["reason", "message"],
            "properties": {
                "reason": {"type": "string", "enum": [r.value for r in Reason]},
                "message": {"type": "string"},
                "details": {"type": "object"},
            },
        }},
    }


def openapi_path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    params = [{"name": name, "in": "path", "required": True,
               "schema": _PARAM_TYPES.get(conv, {"type": "string"})}
              for conv, name in _CONVERTER.findall(rule)]
    return _CONVERTER.sub(r"{\2}", rule), params


def _models() -> list[type[BaseModel]]:
    seen: dict[str, type[BaseModel]] = {}
    for op in OPERATIONS:
        for model in (op.body, op.query, op.response, op.doc_body, op.errors):
            if model is not None:
                seen[model.__name__] = model
    return list(seen.values())


def _query_params(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    return [{"name": name, "in": "query", "required": name in required, "schema": prop}
            for name, prop in schema.get("properties", {}).items()]


def _header_param(header: Header) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if header.pattern:
        schema["pattern"] = header.pattern
    return {"name": header.name, "in": "header", "required": header.required,
            "description": header.description, "schema": schema}


def _operation(op: Operation, path_params: list[dict[str, Any]]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "operationId": op.endpoint.replace(".", "_"),
        "summary": op.summary,
        "tags": list(op.tags),
        "parameters": (path_params + (_query_params(op.query) if op.query else [])
                       + [_header_param(header) for header in op.headers]),
        "x-satukartu-access": op.auth.describe(),
    }
    if op.description:
        doc["description"] = op.description
    if not op.auth.public:
        doc["security"] = [{"bearer": []}]
    body = op.body or op.doc_body
    if body is not None:
        media = "application/json" if op.body else op.doc_body_type
        doc["requestBody"] = {"required": True, "content": {
            media: {"schema": {"$ref": REF.format(model=body.__name__)}}}}
    ok: dict[str, Any] = {"description": "success"}
    if op.status != 204:
        if op.response is not None:
            ok["content"] = {op.content_type: {
                "schema": {"$ref": REF.format(model=op.response.__name__)}}}
        elif op.content_type != "application/json":
            ok["content"] = {op.content_type: {"schema": {"type": "string",
                                                          "format": "binary"}}}
        else:
            ok["content"] = {"application/json": {"schema": {}}}
    error = {"description": "refused; `error.reason` says why",
             "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    refused = error
    if op.errors is not None:
        refused = {"description": "refused; `reason` says why", "content": {
            "application/json": {"schema": {"$ref": REF.format(model=op.errors.__name__)}}}}
    doc["responses"] = {str(op.status): ok, "4XX": refused, "5XX": error}
    if op.reasons:
        doc["x-satukartu-reasons"] = [r.value for r in op.reasons]
    return doc


def build_spec(version: str = "1.0.0") -> dict[str, Any]:
    _, defs = models_json_schema([(m, "validation") for m in _models()], ref_template=REF)
    schemas = dict(defs.get("$defs", {}))
    schemas["Error"] = _error_schema()
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        path, params = openapi_path(op.path)
        paths.setdefault(path, {})[op.method] = _operation(op, params)
    return {
        "openapi": "3.1.0",
        "info": {"title": "SatuKartu hub API", "version": version,
                 "description": "One citizen card, every city service."},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
