"""The OpenAPI document says what errors look like: ``ErrorOut`` for every error status.

FastAPI documents a 422 as its own ``HTTPValidationError`` (a list of pydantic errors), which is
not what this server answers: every error, a 422 too, is ``{"error", "detail", "message"}``
(``dispatch.app.install_error_handlers``). :func:`document_errors` rewrites the generated document
once, operation by operation, with the statuses each can answer:

- 400 and 422: an operation that takes parameters or a body (payload and query checks);
- 401 and 403: one that needs a signed-in user (it has a ``security`` requirement); 401 also for
  the sign-in itself (the OAuth2 ``tokenUrl``: wrong username or password);
- 404: one with a path parameter, or whose body names something by id (``order_id``,
  ``callback_id``, …): the thing named may not exist;
- 409: one that changes something (POST, PUT, PATCH, DELETE);
- 413: one that takes a body;
and any 4xx a router declared itself (the Twilio webhooks' 403 and 404).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field

ERROR_STATUSES = (400, 401, 403, 404, 409, 413, 422)
DESCRIPTIONS = {
    400: "Bad request: a value the server cannot use",
    401: "Not signed in, or the token has expired",
    403: "Signed in, but not allowed to do this",
    404: "Not found",
    409: "Conflict with the current state (e.g. the order's status changed)",
    413: "Payload too large",
    422: "Payload validation failed",
}
_WRITES = frozenset({"post", "put", "patch", "delete"})
_REF = "#/components/schemas/ErrorOut"


class ErrorOut(BaseModel):
    """Every error response."""

    error: str = Field(
        description="stable code to branch on, e.g. no_capacity, invalid_transition, validation_error",
        examples=["no_capacity"],
    )
    detail: str = Field(
        description="what went wrong, in English, for tools and logs",
        examples=["王阿姨 has no free capacity (3/3 open)"],
    )
    message: str = Field(
        description="the same for the person at the screen, in Chinese: what happened and what to do",
        examples=["王阿姨已满负荷（3/3 在办），请选择其他服务方"],
    )


def _body_names_ids(operation: dict[str, Any], schemas: dict[str, Any]) -> bool:
    """Whether the JSON body has a field that names a row by id (``*_id``, ``*_ids``)."""
    content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    pending, seen = [content.get("schema", {})], set()
    while pending:
        node = pending.pop()
        ref = node.get("$ref", "")
        if ref:
            if ref not in seen:
                seen.add(ref)
                pending.append(schemas.get(ref.rsplit("/", 1)[-1], {}))
            continue
        if any(name.endswith(("_id", "_ids")) for name in node.get("properties", {})):
            return True
        pending.extend(node.get("properties", {}).values())
        pending.extend(node.get("anyOf", []))
        if isinstance(node.get("items"), dict):
            pending.append(node["items"])
    return False


def _token_urls(schema: dict[str, Any]) -> set[str]:
    urls = set()
    for scheme in schema.get("components", {}).get("securitySchemes", {}).values():
        for flow in scheme.get("flows", {}).values():
            if "tokenUrl" in flow:
                urls.add(flow["tokenUrl"])
    return urls


def _statuses(method: str, path: str, operation: dict[str, Any], schema: dict[str, Any]) -> set[int]:
    takes_input = bool(operation.get("parameters") or operation.get("requestBody"))
    found = {int(s) for s in operation.get("responses", {}) if s.isdigit() and 400 <= int(s) < 500}
    if takes_input:
        found |= {400, 422}
    if operation.get("security"):
        found |= {401, 403}
    if path in _token_urls(schema):
        found.add(401)
    if "{" in path or _body_names_ids(operation, schema.get("components", {}).get("schemas", {})):
        found.add(404)
    if method in _WRITES:
        found.add(409)
    if operation.get("requestBody"):
        found.add(413)
    return found


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Document ``ErrorOut`` for each operation's error statuses, in place; returns ``schema``."""
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete", "head", "options"):
                continue
            responses = operation.setdefault("responses", {})
            for status in sorted(_statuses(method, path, operation, schema)):
                declared = responses.get(str(status), {})
                responses[str(status)] = {
                    "description": declared.get("description") or DESCRIPTIONS.get(status, "Error"),
                    "content": {"application/json": {"schema": {"$ref": _REF}}},
                }
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas["ErrorOut"] = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    # FastAPI's own 422 schemas, once nothing refers to them any more.
    for name in ("HTTPValidationError", "ValidationError"):
        if name in schemas:
            rest = {**schema, "components": {**schema["components"], "schemas": {**schemas}}}
            del rest["components"]["schemas"][name]
            if f'#/components/schemas/{name}"' not in json.dumps(rest):
                del schemas[name]
    return schema


def install_error_docs(app: FastAPI) -> None:
    """Make ``app.openapi()`` rewrite the document FastAPI builds (and caches) once."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document_errors(build())
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]
