"""The OpenAPI 3.1 document, built from the endpoint registry."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from ..errors import CODES
from .models import ErrorEnvelope
from .registry import CREDENTIALS, SPECS, Spec

REF = "#/components/schemas/{model}"


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=REF)
    for name, sub in schema.pop("$defs", {}).items():
        components[name] = sub
    components[model.__name__] = schema
    return {"$ref": REF.format(model=model.__name__)}


def _operation(spec: Spec, components: dict[str, Any]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": spec.handler.__name__, "summary": spec.summary, "description": spec.description,
        "tags": [spec.tag],
        "parameters": [
            {"name": name, "in": "path", "required": True,
             "schema": {"type": "string", **({"pattern": spec.path_patterns[name]} if name in spec.path_patterns
                                             else {})}}
            for name in re.findall(r"{(\w+)}", spec.path)
        ],
    }
    if spec.query is not None:
        schema = spec.query.model_json_schema()
        for name, prop in schema.get("properties", {}).items():
            op["parameters"].append({"name": name, "in": "query", "required": name in schema.get("required", []),
                                     "description": prop.pop("description", ""), "schema": prop})
    for name, description in spec.headers:
        op["parameters"].append({"name": name, "in": "header", "required": False, "description": description,
                                 "schema": {"type": "string", "minLength": 1, "maxLength": 200}})
    if spec.method == "POST" and spec.path == "/api/tickets":
        op["parameters"].append({"name": "Idempotency-Key", "in": "header", "required": False,
                                 "schema": {"type": "string", "minLength": 1, "maxLength": 64}})
    if spec.credential is not None:
        op["security"] = [{spec.credential: []}]
    if spec.access != "public":
        op["security"] = [{"bearer": []}, {"cookie": []}]
        op["description"] += f"\n\nAccess: {spec.access}."
    if spec.body is not None:
        # The server reads an empty body as {}: the body may be left out exactly when
        # every field has a default (else an empty body is a 422 naming the fields).
        required = any(f.is_required() for f in spec.body.model_fields.values())
        op["requestBody"] = {
            "required": required,
            "description": "A JSON object." + ("" if required else " May be left out (read as {})."),
            "content": {"application/json": {"schema": _schema(spec.body, components)}},
        }
    ok: dict[str, Any] = {"description": "OK"}
    if spec.media_type == "application/json":
        ok["content"] = {
            "application/json": {
                "schema": _schema(spec.response, components) if spec.response else {"type": ["object", "array"]}
            }
        }
    else:
        ok["content"] = {spec.media_type: {"schema": {"type": "string", "format": "binary"}}}
    error = {
        "description": "Error envelope",
        "content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorEnvelope")}}},
    }
    responses: dict[str, Any] = {str(spec.status): ok}
    statuses = {CODES[c] for c in spec.errors}
    if spec.body is not None:
        statuses |= {400, 413, 415, 422}
    if spec.query is not None:
        statuses.add(422)
    if spec.access != "public":
        statuses |= {401, 403}
    if spec.credential is not None:
        statuses.add(401)
    if spec.path_patterns:
        statuses.add(422)
    if spec.rate_limited or spec.path.startswith("/apply/api/"):
        statuses.add(429)
    for status in sorted(statuses):
        responses[str(status)] = error
    op["responses"] = responses
    return op


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of every ``/api/`` route."""
    components: dict[str, Any] = {}
    _schema(ErrorEnvelope, components)
    paths: dict[str, Any] = {}
    for spec in SPECS:
        paths.setdefault(spec.path, {})[spec.method.lower()] = _operation(spec, components)
    paths["/api/openapi.json"] = {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "tags": ["public"],
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}
            },
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "madoguchi API",
            "version": "1",
            "description": "Queue floor API: tickets, counters, accounts, devices. Errors use one envelope: "
            '{"error": {"code", "message", "details"?}}. Real-time events: WebSocket /ws.',
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "madoguchi_token"},
                **{name: {"type": "apiKey", "in": "header", "name": header, "description": description}
                   for name, (header, description) in CREDENTIALS.items()},
            },
        },
    }
