"""Errors over HTTP, on both databases: the stable code, the English detail as before, and a Chinese
message that names the field or the fact (what the person at the screen reads)."""

from __future__ import annotations

from typing import Any

import pytest

from models import Role
from tests.factories import PASSWORD, add_provider, make_user, new_order

ORDER = {
    "caller_phone": "13800138000",
    "description": "厨房水管漏水",
    "item_code": "HOME-01",
    "channel": "phone",
    "address": "阳光花园3幢",
}


def refused(response: Any, status: int, code: str) -> dict[str, str]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "detail", "message"}
    assert body["error"] == code
    return body


def post_order(client: Any, headers: dict[str, str], **change: Any) -> Any:
    return client.post("/api/v1/orders", json={**ORDER, **change}, headers=headers)


def test_a_blank_description(client, world, operator) -> None:
    body = refused(post_order(client, operator, description="   "), 422, "validation_error")
    assert body["detail"] == "description: String should have at least 1 character"
    assert body["message"] == "诉求描述：不能为空"


def test_a_bad_phone_number(client, world, operator) -> None:
    body = refused(post_order(client, operator, caller_phone="12345"), 400, "invalid_phone")
    assert body["detail"] == "caller_phone: '12345' is not a valid phone number"
    assert body["message"].startswith("来电号码：“12345”不是有效的电话号码")


def test_a_latitude_out_of_range(client, world, operator) -> None:
    body = refused(post_order(client, operator, lat=95, lon=120.1), 422, "validation_error")
    assert body["detail"] == "lat: Input should be less than or equal to 90"
    assert body["message"] == "纬度：不能大于 90（当前为 95）"


def test_only_one_coordinate(client, world, operator) -> None:
    body = refused(post_order(client, operator, lat=30.2), 422, "validation_error")
    assert body["detail"] == "request: Value error, give both lat and lon, or neither"
    assert body["message"] == "纬度和经度须同时填写，或都不填"


def test_an_unknown_item(client, world, operator) -> None:
    body = refused(post_order(client, operator, item_code="NOPE-99"), 400, "unknown_item")
    assert body["detail"] == "item_code: unknown catalogue item 'NOPE-99'"
    assert "服务事项" in body["message"] and "NOPE-99" in body["message"]


def test_an_extra_field_and_a_missing_one(client, world, operator) -> None:
    payload = {**ORDER, "colour": "red"}
    del payload["channel"]
    body = refused(client.post("/api/v1/orders", json=payload, headers=operator), 422, "validation_error")
    assert body["detail"] == "channel: Field required; colour: Extra inputs are not permitted"
    assert body["message"] == "受理渠道：必填；colour：不接受此字段，请删去"


def test_a_wrong_choice_is_answered_with_the_choices(client, world, operator) -> None:
    body = refused(post_order(client, operator, channel="fax"), 422, "validation_error")
    assert body["detail"].startswith("channel: Input should be 'phone'")
    assert body["message"] == "受理渠道：可选值：phone、ivr、sms、web、app、visit（当前为 fax）"


def test_a_bad_query_parameter(client, world, operator) -> None:
    body = refused(client.get("/api/v1/orders?limit=0", headers=operator), 422, "validation_error")
    assert body["message"] == "每页条数：不能小于 1（当前为 0）"


def test_a_role_that_may_not(client, world, operator) -> None:
    order = new_order(client, operator)
    body = refused(client.post(f"/api/v1/orders/{order['id']}/urge", headers=operator), 403, "forbidden")
    assert body["detail"] == "this needs one of the roles: admin, supervisor (you are operator)"
    assert body["message"] == "您的角色（坐席）无权执行此操作，需要以下角色之一：管理员、督办"


def test_accepting_an_order_that_was_never_offered(client, world, operator, login) -> None:
    order = new_order(client, operator)
    supervisor = login(Role.SUPERVISOR)
    r = client.post(f"/api/v1/orders/{order['id']}/accept", headers=supervisor)
    body = refused(r, 409, "no_offer")
    assert body["detail"] == f"order {order['number']} is received: there is no offer to sign for"
    assert body["message"] == f"工单{order['number']}当前为“已受理”，没有待签收的派单"


def test_an_illegal_transition_names_the_statuses_in_chinese(client, world, operator, login) -> None:
    order = new_order(client, operator)
    supervisor = login(Role.SUPERVISOR)
    r = client.post(f"/api/v1/orders/{order['id']}/reopen", json={"reason": "再看看"}, headers=supervisor)
    body = refused(r, 409, "invalid_transition")
    assert (
        body["detail"] == "cannot reopen an order that is received (已受理); allowed from: closed, completed"
    )
    assert (
        body["message"]
        == f"工单{order['number']}当前为“已受理”，不能重办（“已办结”、“已归档”的工单才能重办）"
    )


@pytest.mark.manual_dispatch
def test_a_provider_without_capacity(client, world, operator, session_factory) -> None:
    full = add_provider(session_factory, world, km=0.3, capacity=3, open_count=3, name="王阿姨服务社")
    order = new_order(client, operator)
    r = client.post(f"/api/v1/orders/{order['id']}/dispatch", json={"provider_id": full}, headers=operator)
    body = refused(r, 409, "no_capacity")
    assert body["detail"] == "王阿姨服务社 has no free capacity (3/3 open)"
    assert body["message"] == "王阿姨服务社已满负荷（3/3 在办），请选择其他服务方"


def test_an_unknown_order(client, world, operator) -> None:
    body = refused(client.get("/api/v1/orders/987654", headers=operator), 404, "not_found")
    assert body["detail"] == "no order 987654"
    assert body["message"].startswith("未找到编号为 987654 的工单")


def test_a_wrong_password(client, session_factory) -> None:
    with session_factory() as s:
        user = make_user(s, role=Role.OPERATOR)
        s.commit()
        name = user.username
    r = client.post("/api/v1/auth/token", data={"username": name, "password": PASSWORD + "x"})
    body = refused(r, 401, "invalid_credentials")
    assert body["detail"] == "wrong username or password"
    assert body["message"].startswith("用户名或密码错误")
    assert r.headers["WWW-Authenticate"] == "Bearer"


def test_not_signed_in(client) -> None:
    body = refused(client.get("/api/v1/orders"), 401, "not_authenticated")
    assert body["message"] == "请先登录"


def test_the_framework_s_own_errors(client) -> None:
    body = refused(client.get("/api/v1/no-such-thing"), 404, "not_found")
    assert body["detail"] == "Not Found" and body["message"] == "请求的地址不存在"
    body = refused(client.delete("/health"), 405, "method_not_allowed")
    assert body["detail"] == "Method Not Allowed" and body["message"] == "不支持此请求方式"


def test_an_automatic_classification_is_noted_in_chinese(client, world, operator) -> None:
    payload = {k: v for k, v in ORDER.items() if k != "item_code"}
    order = client.post("/api/v1/orders", json=payload, headers=operator).json()
    timeline = client.get(f"/api/v1/orders/{order['id']}", headers=operator).json()["timeline"]
    assert timeline[0]["action"] == "create" and timeline[0]["note"] == "系统自动分类"


def test_taking_back_an_offer_that_was_never_made(client, world, operator, login) -> None:
    order = new_order(client, operator)
    supervisor = login(Role.SUPERVISOR)
    r = client.post(f"/api/v1/orders/{order['id']}/withdraw", json={"reason": "改派"}, headers=supervisor)
    body = refused(r, 409, "no_offer")
    assert body["detail"] == f"order {order['number']} is received: there is no offer to take back"
    assert body["message"] == f"工单{order['number']}当前为“已受理”，没有可收回的派单"


def test_closing_an_unknown_callback(client, operator) -> None:
    r = client.post("/api/v1/callbacks/424242/close", json={"outcome": "answered"}, headers=operator)
    body = refused(r, 404, "not_found")
    assert body["detail"] == "no callback 424242"
    assert body["message"] == "未找到编号为 424242 的回拨记录"
