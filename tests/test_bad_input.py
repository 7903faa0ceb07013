"""Bad input, on both databases: a clear 4xx in the one error shape with a Chinese message, nothing
written; the response headers every API answer carries; spreadsheet formulas written as text."""

from __future__ import annotations

import csv
import io
import re

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from dispatch.catalogue.schemas import ItemPatch
from dispatch.inputs import MAX_ID
from dispatch.orders.schemas import RateIn, ReasonIn
from dispatch.spreadsheet import SafeWriter, unescape_cell
from models import Order
from tests.test_errors_http import ORDER, post_order, refused

CHINESE = re.compile(r"[\u4e00-\u9fff]")


def orders_in(session_factory) -> int:
    with session_factory() as s:
        return s.scalar(select(func.count()).select_from(Order))


def test_a_nul_byte_in_a_body_or_a_query_is_a_400_naming_the_field(
    client, world, operator, session_factory
) -> None:
    body = refused(post_order(client, operator, description="漏水\x00"), 400, "invalid_character")
    assert "description" in body["detail"] and CHINESE.search(body["message"])
    body = refused(client.get("/api/v1/orders?item_code=A%00", headers=operator), 400, "invalid_character")
    assert "item_code" in body["detail"]
    assert orders_in(session_factory) == 0


@pytest.mark.parametrize(
    "path",
    [f"/api/v1/orders/{MAX_ID + 1}", f"/api/v1/orders?provider_id={2**63}", "/api/v1/orders?offset=1e20"],
)
def test_numbers_beyond_what_the_databases_hold_are_a_422(client, operator, path) -> None:
    body = refused(client.get(path, headers=operator), 422, "validation_error")
    assert CHINESE.search(body["message"])


def test_a_time_without_a_zone_or_out_of_range_is_a_422(client, operator) -> None:
    for value in ("0001-01-01T00:00:00+14:00", "2026-12-04T08:00:00"):
        body = refused(
            client.get("/api/v1/orders", params={"from": value}, headers=operator), 422, "validation_error"
        )
        assert "from" in body["detail"]


def test_a_body_over_the_limit_is_a_413_before_it_is_read(client, operator, session_factory) -> None:
    big = {**ORDER, "description": "x" * (2 * 1024 * 1024)}
    body = refused(client.post("/api/v1/orders", json=big, headers=operator), 413, "payload_too_large")
    assert "1 MB" in body["message"]
    assert orders_in(session_factory) == 0


def test_api_answers_are_not_sniffed_or_cached(client, operator) -> None:
    for response in (
        client.get("/api/v1/me", headers=operator),
        client.get("/api/v1/orders/1", headers=operator),
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "no-store" in response.headers["cache-control"]


def test_a_method_not_allowed_names_every_method_of_the_path(client) -> None:
    response = client.put("/api/v1/users/1")
    refused(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET, PATCH"
    # Not taken for a day of the calendar (``/calendar/{day}`` has a PUT).
    assert client.put("/api/v1/calendar/coverage").headers["allow"] == "GET"


def test_lengths_are_measured_as_sent_and_text_is_trimmed() -> None:
    assert ReasonIn(reason="  门锁坏了  ").reason == "门锁坏了"
    with pytest.raises(ValidationError) as caught:
        ReasonIn(reason="\x0c" * 5 + "x" * 298)
    assert caught.value.errors()[0]["type"] == "string_too_long"
    assert caught.value.errors()[0]["loc"] == ("reason",)


def test_true_and_false_are_not_numbers_and_numbers_are_not_flags() -> None:
    for payload in ({"stars": True}, {"reopen": 1}):
        with pytest.raises(ValidationError):
            RateIn.model_validate(payload)
    with pytest.raises(ValidationError):
        ItemPatch.model_validate({"sign_for_limit": True})
    assert RateIn.model_validate({"stars": 5, "reopen": False}).stars == 5


def test_the_docs_can_be_switched_off(settings) -> None:
    from fastapi.testclient import TestClient

    from dispatch.app import create_app

    off = settings.model_copy(update={"server": settings.server.model_copy(update={"docs": False})})
    with TestClient(create_app(off)) as c:
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert c.get(path).status_code == 404
        assert c.get("/health").status_code == 200


def test_cells_a_spreadsheet_would_run_are_written_as_text() -> None:
    out = io.StringIO()
    SafeWriter(out).writerow(['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "\tx", "\rx", "王师傅", 3])
    cells = next(csv.reader(io.StringIO(out.getvalue())))
    assert [c[0] for c in cells[:6]] == ["'"] * 6
    assert cells[6:] == ["王师傅", "3"]
    assert unescape_cell(cells[0]) == '=HYPERLINK("http://x")'
