"""Open311 GeoReport v2 at /open311/v2/, in process, on both databases: services and definitions,
POSTed requests (orders, or tokens the call centre resolves), the public GETs and their filters,
personal data kept out, API keys (403, 429, every use logged) and the spec's error format
everywhere under the prefix. The same through real clients from PyPI: test_open311_client.py."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from dispatch.open311.public import snap
from dispatch.settings import Open311Settings
from models import (
    IdempotencyKey,
    Open311Key,
    Open311KeyUse,
    Open311Submission,
    Order,
    OrderEvent,
    Resident,
    Role,
)
from tests.support.open311 import EXACT_ADDRESS, FORM, RESIDENT, spec_error, xml_requests

BASE = "/open311/v2"


@pytest.fixture
def open311() -> dict[str, Any]:
    """The ``[open311]`` settings of a test (parametrize it)."""
    return {"enabled": True}


@pytest.fixture
def settings(settings, open311):
    return settings.model_copy(update={"open311": Open311Settings(**open311)})


@pytest.fixture
def admin(login) -> dict[str, str]:
    return login(Role.ADMIN)


def issue(client, admin, **body: Any) -> dict[str, Any]:
    r = client.post("/api/v1/open311/keys", json={"name": "区12345热线平台", **body}, headers=admin)
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture
def key(client, admin, world) -> str:
    return issue(client, admin, contact="李工 0571-88880000")["key"]


def post(client, key: str, fmt: str = "json", headers: dict[str, str] | None = None, **fields: Any):
    return client.post(f"{BASE}/requests.{fmt}", data={"api_key": key, **FORM, **fields}, headers=headers)


def written(session_factory) -> dict[str, int]:
    with session_factory() as s:
        return {
            model.__name__: s.scalar(select(func.count()).select_from(model)) or 0
            for model in (Order, OrderEvent, Resident, Open311Submission, IdempotencyKey)
        }


def uses(session_factory) -> list[tuple[str, int, str]]:
    with session_factory() as s:
        rows = s.execute(select(Open311KeyUse).order_by(Open311KeyUse.id)).scalars()
        return [(u.operation, u.status, u.reference) for u in rows]


# --- services and their definitions ------------------------------------------------------------


def test_services_are_the_active_catalogue_items_in_json_and_xml(client, world) -> None:
    r = client.get(f"{BASE}/services.json")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json; charset=utf-8"
    services = {s["service_code"]: s for s in r.json()}
    lock = services["HOME-04"]
    assert lock["service_name"] == "开锁换锁" and lock["group"] == "家政维修" and lock["type"] == "realtime"
    assert lock["metadata"] is True and "钥匙" in lock["keywords"].split(",")
    assert services["ERR-04"]["metadata"] is False  # no visit, no safety notice: no attributes

    r = client.get(f"{BASE}/services.xml")
    assert r.headers["content-type"] == "text/xml; charset=utf-8"
    assert r.content.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    root = ET.fromstring(r.content)
    assert root.tag == "services" and len(root) == len(services)
    xml_lock = next(s for s in root if s.findtext("service_code") == "HOME-04")
    assert xml_lock.findtext("metadata") == "true" and xml_lock.findtext("group") == "家政维修"


def test_a_definition_lists_the_attributes_of_items_that_need_them(client, world) -> None:
    definition = client.get(f"{BASE}/services/HOME-04.json").json()
    assert definition["service_code"] == "HOME-04"
    by_code = {a["code"]: a for a in definition["attributes"]}
    notice, when = by_code["safety_notice"], by_code["preferred_time"]
    assert notice["variable"] is False and "身份" in notice["description"]
    assert when["variable"] is True and when["required"] is False and when["datatype"] == "singlevaluelist"
    assert [v["key"] for v in when["values"]] == ["morning", "afternoon", "evening", "anytime"]

    root = ET.fromstring(client.get(f"{BASE}/services/HOME-04.xml").content)
    assert root.tag == "service_definition"
    keys = [v.findtext("key") for v in root.iterfind("attributes/attribute/values/value")]
    assert keys == ["morning", "afternoon", "evening", "anytime"]

    # An item without attributes has a definition all the same (the spec's 404 is for unknown codes).
    assert client.get(f"{BASE}/services/ERR-04.json").json() == {"service_code": "ERR-04", "attributes": []}
    for fmt in ("json", "xml"):
        r = client.get(f"{BASE}/services/NOPE-99.{fmt}")
        assert r.status_code == 404 and spec_error(r) == (404, "没有编码为 NOPE-99 的服务（或已停用）")


# --- POST requests ------------------------------------------------------------------------------


def test_a_post_becomes_an_order_through_the_intake_with_the_application_named(
    client, key, operator, session_factory
) -> None:
    r = post(client, key, "json", **{"attribute[preferred_time]": "morning"})
    assert r.status_code == 201, r.text
    [answer] = r.json()
    number = answer["service_request_id"]
    assert "token" not in answer and number in answer["service_notice"]

    with session_factory() as s:
        order = s.scalar(select(Order).where(Order.number == number))
        assert order.channel == "app" and order.item_id is not None and order.community_id is not None
        resident = s.get(Resident, order.resident_id)
        assert resident.name == "王秀英" and order.caller_phone == "+8613800138000"
        submission = s.scalar(select(Open311Submission))
        assert submission.order_id == order.id and submission.status == "ordered" and submission.form == {}
    detail = client.get(f"/api/v1/orders/{order.id}", headers=operator).json()
    created = detail["timeline"][0]
    assert created["action"] == "create" and created["actor"] == "open311:区12345热线平台"
    assert "经开放接口（Open311）由「区12345热线平台」提交" in created["note"]
    assert "希望上门的时间段：上午（8:00–12:00）" in created["note"]
    assert uses(session_factory) == [("post_request", 201, number)]

    # The same in XML.
    r = post(client, key, "xml", description="卫生间水龙头一直滴水")
    assert r.status_code == 201
    [made] = xml_requests(r)
    assert made["service_request_id"].startswith(number[:9]) and made["account_id"] == ""


def test_a_request_whose_place_cannot_be_found_waits_with_a_token(
    client, key, operator, admin, session_factory, login
) -> None:
    before = written(session_factory)
    r = post(client, key, address_string="火星基地一号", account_id="u-77")
    assert r.status_code == 201, r.text
    [answer] = r.json()
    token = answer["token"]
    assert "service_request_id" not in answer and answer["account_id"] == "u-77"
    after = written(session_factory)
    assert after["Order"] == before["Order"] and after["Resident"] == before["Resident"]
    assert client.get(f"{BASE}/tokens/{token}.json").json() == [{"service_request_id": None, "token": token}]

    pending = client.get("/api/v1/open311/pending", headers=operator).json()
    [waiting] = pending["items"]
    assert (
        waiting["token"] == token and waiting["phone"] == "138****8000" and waiting["resident_name"] == "王**"
    )
    assert waiting["application"] == "区12345热线平台" and waiting["address"] == "火星基地一号"

    # The operator finds the place; the same intake makes the order, and the token answers it.
    bad = client.post(
        f"/api/v1/open311/pending/{waiting['id']}/accept", json={"address": "火星基地二号"}, headers=operator
    )
    assert bad.status_code == 400 and written(session_factory)["Order"] == before["Order"]
    made = client.post(
        f"/api/v1/open311/pending/{waiting['id']}/accept", json={"address": "阳光花园3幢"}, headers=operator
    )
    assert made.status_code == 200, made.text
    number = made.json()["number"]
    with session_factory() as s:
        kept = s.get(Open311Submission, waiting["id"])
        assert kept.form == {} and kept.status == "ordered"  # the order holds the resident's data now
    assert client.get(f"{BASE}/tokens/{token}.json").json() == [
        {"service_request_id": number, "token": token}
    ]
    root = ET.fromstring(client.get(f"{BASE}/tokens/{token}.xml").content)
    assert root.findtext("request/service_request_id") == number and root.findtext("request/token") == token
    again = client.post(
        f"/api/v1/open311/pending/{waiting['id']}/accept", json={"address": "阳光花园3幢"}, headers=operator
    )
    assert again.status_code == 409
    assert client.get("/api/v1/open311/pending", headers=operator).json()["total"] == 0

    # One turned down: its token answers 404 from then on.
    other = post(client, key, address_string="不存在的地方").json()[0]["token"]
    waiting_id = client.get("/api/v1/open311/pending", headers=operator).json()["items"][0]["id"]
    rejected = client.post(
        f"/api/v1/open311/pending/{waiting_id}/reject", json={"reason": "测试数据"}, headers=admin
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert rejected.json()["phone"] == "" and rejected.json()["resident_name"] is None
    assert rejected.json()["description"] == FORM["description"]
    r = client.get(f"{BASE}/tokens/{other}.xml")
    assert r.status_code == 404 and spec_error(r)[0] == 404
    assert client.get(f"{BASE}/tokens/nothing-like-it.json").status_code == 404
    # Workers and organisation admins do not see what applications filed.
    for role in (Role.WORKER, Role.ORG_ADMIN):
        assert client.get("/api/v1/open311/pending", headers=login(role)).status_code == 403


BAD_FORMS = [
    ({"service_code": ""}, "service_code"),
    ({"service_code": "NOPE-1"}, "service_code"),
    ({"lat": "30.29"}, "long"),
    ({"lat": "91", "long": "120.1"}, "lat"),
    ({"lat": "nan", "long": "120.1"}, "lat"),
    ({"address_string": ""}, "address_string"),
    ({"address_id": "999999"}, "address_id"),
    ({"phone": ""}, "phone"),
    ({"phone": "12"}, "phone"),
    ({"email": "not-an-address"}, "email"),
    ({"media_url": "javascript:alert(1)"}, "media_url"),
    ({"description": "漏" * 4001}, "description"),
    ({"attribute[colour]": "red"}, "attribute[colour]"),
    ({"attribute[preferred_time]": "midnight"}, "attribute[preferred_time]"),
    ({"coord_system": "mars"}, "coord_system"),
]


@pytest.mark.parametrize(("fields", "named"), BAD_FORMS, ids=[n for _, n in BAD_FORMS])
def test_bad_input_is_a_spec_400_and_writes_nothing(client, key, session_factory, fields, named) -> None:
    before = written(session_factory)
    for fmt in ("json", "xml"):
        r = post(client, key, fmt, **fields)
        assert r.status_code == 400, r.text
        code, description = spec_error(r)
        assert code == 400 and description.startswith(named), description
    assert written(session_factory) == before
    assert uses(session_factory) == [("post_request", 400, "")] * 2


def test_a_request_must_be_a_form_given_once(client, key, session_factory) -> None:
    before = written(session_factory)
    as_json = client.post(f"{BASE}/requests.json", json={"api_key": key, **FORM})
    assert as_json.status_code == 400 and "表单" in spec_error(as_json)[1]
    twice = client.post(
        f"{BASE}/requests.json",
        content=f"api_key={key}&service_code=HOME-01&service_code=HOME-02",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert twice.status_code == 400 and "只能填写一次" in spec_error(twice)[1]
    upload = client.post(
        f"{BASE}/requests.xml",
        data={"api_key": key, **FORM},
        files={"media": ("a.png", b"\x89PNG", "image/png")},
    )
    assert upload.status_code == 400 and "media_url" in spec_error(upload)[1]
    assert written(session_factory) == before


def test_keys_missing_unknown_or_revoked_are_refused(client, admin, key, session_factory) -> None:
    for secret in (None, "s311_not-a-key", "x" * 500):
        data = {**FORM} if secret is None else {"api_key": secret, **FORM}
        r = client.post(f"{BASE}/requests.xml", data=data)
        assert r.status_code == 403 and spec_error(r)[0] == 403
    assert client.get(f"{BASE}/services.json", params={"api_key": "nope"}).status_code == 403
    [listed] = client.get("/api/v1/open311/keys", headers=admin).json()["items"]
    revoked = client.delete(f"/api/v1/open311/keys/{listed['id']}", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    before = written(session_factory)
    r = post(client, key)
    assert r.status_code == 403 and spec_error(r) == (403, "api_key 已被吊销：请联系平台管理员重新签发")
    assert written(session_factory) == before
    # Only a known key's uses are logged: the revoked one's refusal is.
    assert uses(session_factory) == [("post_request", 403, "")]
    # Revoking again changes nothing.
    again = client.delete(f"/api/v1/open311/keys/{listed['id']}", headers=admin).json()
    assert again["revoked_at"] == revoked.json()["revoked_at"]


def test_a_key_is_shown_once_and_stored_as_a_hash(client, admin, world, session_factory, login) -> None:
    issued = issue(client, admin, rate_per_minute=30)
    assert issued["key"].startswith(issued["prefix"]) and issued["rate_per_minute"] == 30
    listed = client.get("/api/v1/open311/keys", headers=admin).json()
    assert listed["total"] == 1 and "key" not in listed["items"][0]
    with session_factory() as s:
        row = s.scalar(select(Open311Key))
        assert issued["key"] not in json.dumps(
            {c.key: str(getattr(row, c.key)) for c in row.__table__.columns}
        )
    for role in (Role.SUPERVISOR, Role.OPERATOR, Role.ORG_ADMIN):
        headers = login(role)
        assert client.get("/api/v1/open311/keys", headers=headers).status_code == 403
        assert client.post("/api/v1/open311/keys", json={"name": "x"}, headers=headers).status_code == 403
    assert client.post("/api/v1/open311/keys", json={"name": ""}, headers=admin).status_code == 422
    assert client.delete("/api/v1/open311/keys/9999", headers=admin).status_code == 404


@pytest.mark.parametrize("open311", [{"enabled": True, "rate_per_minute": 2}])
def test_a_key_over_its_rate_gets_a_spec_429_with_retry_after(client, key, session_factory) -> None:
    assert client.get(f"{BASE}/services.json", params={"api_key": key}).status_code == 200
    assert post(client, key).status_code == 201
    for fmt in ("json", "xml"):
        r = client.get(f"{BASE}/requests.{fmt}", params={"api_key": key})
        assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 60
        assert spec_error(r)[0] == 429 and "每分钟最多 2 次" in spec_error(r)[1]
    before = written(session_factory)
    assert post(client, key).status_code == 429
    assert written(session_factory) == before
    assert [(op, status) for op, status, _ in uses(session_factory)] == [
        ("get_services", 200),
        ("post_request", 201),
        ("get_requests", 429),
        ("get_requests", 429),
        ("post_request", 429),
    ]
    # Unkeyed public reads are not the key's.
    assert client.get(f"{BASE}/services.json").status_code == 200


def test_every_use_is_logged_and_readable_by_admins(client, admin, key, session_factory, operator) -> None:
    number = post(client, key).json()[0]["service_request_id"]
    client.get(f"{BASE}/requests/{number}.xml", params={"api_key": key})
    client.get(f"{BASE}/requests/nope.json", params={"api_key": key})
    key_id = client.get("/api/v1/open311/keys", headers=admin).json()["items"][0]["id"]
    logged = client.get(f"/api/v1/open311/keys/{key_id}/uses", headers=admin).json()
    assert logged["total"] == 3
    assert [(u["operation"], u["status"], u["reference"]) for u in logged["items"]] == [
        ("get_request", 404, "nope"),
        ("get_request", 200, number),
        ("post_request", 201, number),
    ]
    assert all(u["client_address"] == "testclient" for u in logged["items"])
    listed = client.get("/api/v1/open311/keys", headers=admin).json()["items"][0]
    assert listed["uses"] == 3 and listed["last_used_at"]
    assert client.get(f"/api/v1/open311/keys/{key_id}/uses", headers=operator).status_code == 403


def test_retries_create_nothing_twice(client, key, session_factory) -> None:
    first = post(client, key, headers={"Idempotency-Key": "app-req-1"})
    again = post(client, key, "xml", headers={"Idempotency-Key": "app-req-1"})
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert xml_requests(again)[0]["service_request_id"] == first.json()[0]["service_request_id"]
    other = post(client, key, headers={"Idempotency-Key": "app-req-1"}, description="另一件事")
    assert other.status_code == 409 and spec_error(other)[0] == 409

    # The same device saying the same thing again within minutes: the first answer, no new order.
    device = {"device_id": "wx-openid-42", "description": "楼道灯坏了"}
    one = post(client, key, **device).json()[0]
    count = written(session_factory)["Order"]
    repeated = post(client, key, **device)
    assert repeated.headers["idempotent-replayed"] == "true"
    assert repeated.json()[0]["service_request_id"] == one["service_request_id"]
    assert written(session_factory)["Order"] == count
    assert (
        post(client, key, **{**device, "description": "楼道灯又坏了"}).json()[0]["service_request_id"]
        != (one["service_request_id"])
    )


# --- the public GETs --------------------------------------------------------------------------------


def test_public_reads_carry_no_name_phone_or_exact_address(client, key, session_factory) -> None:
    point = (30.29061, 120.12063)
    number = post(client, key, lat=str(point[0]), long=str(point[1]), email="wang@example.com").json()[0][
        "service_request_id"
    ]
    with session_factory() as s:
        order = s.scalar(select(Order).where(Order.number == number))
        s.execute(
            update(Order)
            .where(Order.id == order.id)
            .values(description=order.description + " wang@example.com")
        )
        s.commit()
    reads = [
        client.get(f"{BASE}/requests.json"),
        client.get(f"{BASE}/requests.xml"),
        client.get(f"{BASE}/requests/{number}.json"),
        client.get(f"{BASE}/requests/{number}.xml"),
    ]
    for r in reads:
        assert r.status_code == 200
        text = r.content.decode()
        for secret in (
            "秀英",
            "13800138000",
            "8000",
            "501",
            EXACT_ADDRESS,
            "阳光花园3幢",
            "wang@example.com",
        ):
            assert secret not in text, (secret, text)
    [one] = reads[2].json()
    assert one["address"] == "翠苑街道 翠苑一区社区" and one["description"].startswith("王**家厨房水管漏水")
    assert one["status"] == "open" and one["status_notes"] == "已受理，正在安排服务"
    assert one["service_code"] == "HOME-01" and one["media_url"] is None and one["agency_responsible"] is None
    assert (one["lat"], one["long"]) == snap(*point, 500) != point
    km = math.dist(
        (one["lat"] * 111.32, one["long"] * 111.32 * math.cos(math.radians(30.29))),
        (
            point[0] * 111.32,
            point[1] * 111.32 * math.cos(math.radians(30.29)),
        ),
    )
    assert 0.001 < km <= 0.36
    assert xml_requests(reads[3])[0]["lat"] == str(one["lat"])


@pytest.mark.parametrize("open311", [{"enabled": True, "coordinate_precision_m": 2000}])
def test_the_coordinate_precision_is_configurable(client, key) -> None:
    number = post(client, key, lat="30.29061", long="120.12063").json()[0]["service_request_id"]
    [one] = client.get(f"{BASE}/requests/{number}.json").json()
    assert (one["lat"], one["long"]) == snap(30.29061, 120.12063, 2000) != snap(30.29061, 120.12063, 500)


def test_the_filters_and_the_date_window(client, key, operator, session_factory) -> None:
    made = [post(client, key, description=f"第{i}件事").json()[0]["service_request_id"] for i in range(3)]
    lock = post(client, key, service_code="HOME-04", description="钥匙丢了进不了门").json()[0][
        "service_request_id"
    ]
    with session_factory() as s:
        first = s.scalar(select(Order).where(Order.number == made[0]))
        old = s.scalar(select(Order).where(Order.number == made[1]))
        s.execute(
            update(Order).where(Order.id == old.id).values(created_at=datetime.now(UTC) - timedelta(days=100))
        )
        s.commit()
    cancel = client.post(
        f"/api/v1/orders/{first.id}/cancel", json={"reason": "居民来电撤销"}, headers=operator
    )
    assert cancel.status_code == 200, cancel.text

    def numbers(fmt: str = "json", **params: str) -> list[str]:
        r = client.get(f"{BASE}/requests.{fmt}", params=params)
        assert r.status_code == 200, r.text
        rows = r.json() if fmt == "json" else xml_requests(r)
        return [row["service_request_id"] for row in rows]

    # The last 90 days by default, newest first; the old one only when asked for by date or id.
    assert numbers() == [lock, made[2], made[0]] == numbers("xml")
    ago = (datetime.now(UTC) - timedelta(days=101)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert numbers(start_date=ago, end_date=(datetime.now(UTC) - timedelta(days=50)).date().isoformat()) == [
        made[1]
    ]
    assert numbers(start_date=ago) == [made[1]]  # start + 90 days
    assert numbers(service_request_id=f"{made[1]},{lock}, nothing") == [lock, made[1]]
    assert numbers(service_code="HOME-04") == [lock]
    assert numbers(service_code="HOME-04,HOME-01") == [lock, made[2], made[0]]
    assert numbers(status="closed") == [made[0]]
    assert numbers(status="open") == [lock, made[2]]
    assert numbers(status="open,closed") == [lock, made[2], made[0]]
    [cancelled] = client.get(f"{BASE}/requests/{made[0]}.json").json()
    assert cancelled["status"] == "closed" and cancelled["status_notes"] == "已撤销"

    for params in (
        {"status": "pending"},
        {"start_date": "yesterday"},
        {"start_date": "2026-12-01T00:00:00"},  # no time zone
        {"start_date": "2026-01-01", "end_date": "2026-06-01"},  # more than 90 days
        {"start_date": "2026-06-01", "end_date": "2026-05-01"},
        {"service_request_id": "x" * 21},
    ):
        for fmt in ("json", "xml"):
            r = client.get(f"{BASE}/requests.{fmt}", params=params)
            assert r.status_code == 400 and spec_error(r)[0] == 400, (params, r.text)
    r = client.get(f"{BASE}/requests/nope.xml")
    assert r.status_code == 404 and spec_error(r) == (404, "没有编号为 nope 的服务请求")


@pytest.mark.parametrize("open311", [{"enabled": True, "max_requests_per_query": 2}])
def test_a_query_answers_at_most_the_maximum(client, key) -> None:
    for i in range(3):
        post(client, key, description=f"第{i}件事")
    assert len(client.get(f"{BASE}/requests.json").json()) == 2


def test_xml_stays_well_formed_with_control_characters(client, key, session_factory) -> None:
    number = post(client, key).json()[0]["service_request_id"]
    with session_factory() as s:
        s.execute(update(Order).where(Order.number == number).values(description="漏水\x07\x1b了 <b>&amp;"))
        s.commit()
    root = ET.fromstring(client.get(f"{BASE}/requests/{number}.xml").content)
    assert root.findtext("request/description") == "漏水了 <b>&amp;"
    assert client.get(f"{BASE}/requests/{number}.json").json()[0]["description"] == "漏水\x07\x1b了 <b>&amp;"


# --- the spec's error format everywhere under the prefix -------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_every_error_under_the_prefix_is_in_the_spec_format(client, key, fmt) -> None:
    cases = [
        (client.get(f"{BASE}/nothing-here.{fmt}"), 404),
        (client.delete(f"{BASE}/services.{fmt}"), 405),
        (
            client.post(
                f"{BASE}/requests.{fmt}", data={"api_key": key, "description": "x" * (2 * 1024 * 1024)}
            ),
            413,
        ),
        (client.get(f"{BASE}/requests.{fmt}", params={"service_code": "A\x00"}), 400),
        (client.get(f"{BASE}/services/HOME-01.{fmt}", params={"jurisdiction_id": "x"}), 200),
    ]
    for r, status in cases:
        assert r.status_code == status, r.text
        if status >= 400:
            assert spec_error(r)[0] == status
    assert cases[1][0].headers["allow"] == "GET"
    r = client.get(f"{BASE}/services.csv")
    assert r.status_code == 400 and json.loads(r.content) == [
        {"code": 400, "description": "不支持的格式“csv”：请用 .json 或 .xml"}
    ]
    # The rest of the API keeps its own error shape.
    assert set(client.get("/api/v1/nothing").json()) == {"error", "detail", "message"}


@pytest.mark.parametrize("open311", [{"enabled": True, "jurisdiction_id": "hz-xihu"}])
def test_a_configured_jurisdiction_is_checked(client, key, session_factory) -> None:
    assert client.get(f"{BASE}/services.json", params={"jurisdiction_id": "hz-xihu"}).status_code == 200
    r = client.get(f"{BASE}/services.xml", params={"jurisdiction_id": "sh-pudong"})
    assert r.status_code == 400 and "hz-xihu" in spec_error(r)[1]
    before = written(session_factory)
    assert post(client, key, jurisdiction_id="sh-pudong").status_code == 400
    assert written(session_factory) == before
    assert post(client, key, jurisdiction_id="hz-xihu").status_code == 201


@pytest.mark.parametrize("open311", [{"enabled": False}])
def test_switched_off_it_answers_404_in_the_spec_format(client, world) -> None:
    for fmt in ("json", "xml"):
        r = client.get(f"{BASE}/services.{fmt}")
        assert r.status_code == 404 and spec_error(r) == (404, "本平台未开启开放接口（Open311）")


def test_residents_registered_address_is_never_used_for_an_application(client, key, operator) -> None:
    # The resident is known with an address; the application's unknown place still waits.
    from tests.factories import new_order

    new_order(client, operator, caller_phone=RESIDENT["phone"])
    assert "token" in post(client, key, address_string="某个不认识的地方").json()[0]
