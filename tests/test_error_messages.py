"""The OpenAPI document describes errors as they are: ``ErrorOut``, a 422 too."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def spec() -> dict:
    from dispatch.app import create_app
    from dispatch.settings import Settings

    # The document is built from the routes alone: no database is opened.
    return create_app(Settings(database_url="sqlite:///unused-openapi.db")).openapi()


def _operations(spec: dict):
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def test_the_openapi_document_describes_every_error_as_error_out(spec: dict) -> None:
    error_out = spec["components"]["schemas"]["ErrorOut"]
    assert set(error_out["required"]) == {"error", "detail", "message"}
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert "ValidationError" not in spec["components"]["schemas"]
    documented = 0
    for path, method, operation in _operations(spec):
        for status, response in operation["responses"].items():
            if status.startswith("4"):
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorOut"}, (path, method, status)
                documented += 1
    assert documented > 100


def test_the_openapi_document_lists_the_statuses_an_operation_can_answer(spec: dict) -> None:
    def statuses(path: str, method: str) -> set[str]:
        return {s for s in spec["paths"][path][method]["responses"] if s.startswith("4")}

    assert statuses("/api/v1/orders", "post") == {"400", "401", "403", "409", "413", "422"}
    assert statuses("/api/v1/orders/{order_id}/accept", "post") == {"400", "401", "403", "404", "409", "422"}
    assert statuses("/api/v1/orders/{order_id}", "get") >= {"401", "403", "404", "422"}
    assert {"403", "404"} <= statuses("/telephony/twilio/sms", "post")
    assert statuses("/health", "get") == set()
    validation = spec["paths"]["/api/v1/orders"]["post"]["responses"]["422"]
    assert validation["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")
