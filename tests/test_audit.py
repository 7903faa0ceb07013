"""The access trail: every read of a resident's personal data is a row (who, when, whom, why), which
admins list by resident and by user and export; nothing changes or deletes a row."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from dispatch.audit.service import REPEAT_WINDOW
from dispatch.calls.events import CallAnswered, CallRinging, event_to_dict
from models import AccessRecord, Resident, ResidentPhone, Role
from tests.factories import START, make_user, missed_call, new_order

pytestmark = pytest.mark.manual_dispatch

PHONE = "+8613800138000"


@pytest.fixture
def resident(session_factory, world) -> int:
    with session_factory() as s:
        r = Resident(name="王桂兰", address="文新家园5幢1单元302室", tags=["独居老人"])
        r.phones.append(ResidentPhone(e164=PHONE, is_primary=True))
        s.add(r)
        s.commit()
        return r.id


@pytest.fixture
def admin(login) -> dict[str, str]:
    return login(Role.ADMIN)


def records(session_factory, **where) -> list[AccessRecord]:
    with session_factory() as s:
        stmt = select(AccessRecord).order_by(AccessRecord.id)
        for key, value in where.items():
            stmt = stmt.where(getattr(AccessRecord, key) == value)
        return list(s.scalars(stmt))


def user_id(client, headers: dict[str, str]) -> int:
    return client.get("/api/v1/me", headers=headers).json()["id"]


def ingest(client, headers, events) -> None:
    for event in events:
        assert (
            client.post("/api/v1/telephony/events", json=event_to_dict(event), headers=headers).status_code
            == 202
        )
    client.app.state.ctx.live().ingest.drain()


def test_every_personal_data_read_path_writes_a_row(
    client, resident, operator, admin, clock, session_factory
) -> None:
    me = user_id(client, operator)
    order = new_order(client, operator)
    assert records(session_factory) == []  # taking the order on the call reads nothing more

    paths = [
        ("profile", lambda: client.get(f"/api/v1/residents/{resident}", headers=operator)),
        (
            "resident_search",
            lambda: client.get("/api/v1/residents", params={"q": "王桂兰"}, headers=operator),
        ),
        ("order_detail", lambda: client.get(f"/api/v1/orders/{order['id']}", headers=operator)),
        (
            "phone_reveal",
            lambda: client.post(
                "/api/v1/phones/reveal",
                json={"order_id": order["id"], "reason": "回访评价"},
                headers=operator,
            ),
        ),
        (
            "export",
            lambda: client.get(
                "/api/v1/exports/orders.csv",
                params={"personal": "true", "reason": "民政局核查"},
                headers=admin,
            ),
        ),
    ]
    for action, read in paths:
        clock.advance(minutes=1)
        assert read().status_code == 200, action
        rows = records(session_factory, action=action)
        assert len(rows) == 1, action
        row = rows[0]
        assert row.resident_id == resident and row.at == clock.now(), action
        assert row.role == ("admin" if action == "export" else "operator"), action
        assert action == "export" or row.user_id == me, action
    reveal = records(session_factory, action="phone_reveal")[0]
    assert (reveal.user_id, reveal.role, reveal.reason, reveal.order_id) == (
        me,
        "operator",
        "回访评价",
        order["id"],
    )
    assert records(session_factory, action="export")[0].reason == "民政局核查"
    assert records(session_factory, action="order_detail")[0].detail == "name,tags,address"

    # The callback worklist names whom to call back: a row per resident listed.
    start = START + timedelta(minutes=10)
    ingest(client, admin, missed_call("M1", start))
    assert client.get("/api/v1/callbacks", headers=operator).json()["total"] == 1
    [row] = records(session_factory, action="callback")
    assert (row.user_id, row.resident_id) == (me, resident)


def test_the_screen_pop_is_recorded_for_the_operator_rung(client, resident, admin, session_factory) -> None:
    with session_factory() as s:
        op = make_user(s, role=Role.OPERATOR, extension="1001")
        s.commit()
        op_id = op.id
    ring = START + timedelta(hours=1)
    ingest(
        client,
        admin,
        [
            CallRinging("P1", "simulator", "13800138000", "12345", "hotline", "1001", ring),
            CallAnswered("P1", "simulator", "1001", ring + timedelta(seconds=4)),
        ],
    )
    [row] = records(session_factory, action="screen_pop")
    assert (row.user_id, row.resident_id, row.at.timestamp()) == (op_id, resident, ring.timestamp())
    assert row.reason and "P1" in row.detail
    # An unknown caller's pop shows nobody: nothing to record.
    ingest(client, admin, [CallRinging("P2", "simulator", "13912345678", "12345", "hotline", "1001", ring)])
    assert len(records(session_factory, action="screen_pop")) == 1


def test_repeated_views_fold_within_the_window_reveals_never(
    client, resident, operator, clock, session_factory
) -> None:
    order = new_order(client, operator)
    for _ in range(3):
        client.get(f"/api/v1/orders/{order['id']}", headers=operator)
        client.post(
            "/api/v1/phones/reveal", json={"order_id": order["id"], "reason": "回访"}, headers=operator
        )
    assert len(records(session_factory, action="order_detail")) == 1
    assert len(records(session_factory, action="phone_reveal")) == 3
    clock.advance(seconds=REPEAT_WINDOW.total_seconds() + 1)
    client.get(f"/api/v1/orders/{order['id']}", headers=operator)
    assert len(records(session_factory, action="order_detail")) == 2


def test_admins_list_the_trail_by_resident_and_by_user_and_export_it(
    client, resident, operator, admin, login, clock, session_factory
) -> None:
    other = login(Role.SUPERVISOR)
    order = new_order(client, operator)
    client.post(
        "/api/v1/phones/reveal", json={"order_id": order["id"], "reason": "回访评价"}, headers=operator
    )
    clock.advance(minutes=1)
    client.get(f"/api/v1/residents/{resident}", headers=other)
    me = user_id(client, operator)

    by_resident = client.get("/api/v1/audit", params={"resident_id": resident}, headers=admin).json()
    assert by_resident["total"] == 2
    newest, oldest = by_resident["items"]
    assert (newest["action"], newest["action_zh"], newest["role"]) == (
        "profile",
        "查看居民档案",
        "supervisor",
    )
    assert (oldest["action"], oldest["user_id"], oldest["reason"]) == ("phone_reveal", me, "回访评价")
    assert oldest["order_number"] == order["number"] and oldest["resident_name"] == "王**"

    by_user = client.get("/api/v1/audit", params={"user_id": me}, headers=admin).json()
    assert [i["action"] for i in by_user["items"]] == ["phone_reveal"]
    since = client.get("/api/v1/audit", params={"from": clock.now().isoformat()}, headers=admin).json()
    assert [i["action"] for i in since["items"]] == ["profile"]
    naive = client.get("/api/v1/audit", params={"from": "2026-01-01T00:00:00"}, headers=admin)
    assert naive.status_code == 422 and "时区" in naive.json()["message"]

    r = client.get("/api/v1/audit/export.csv", params={"resident_id": resident}, headers=admin)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [(x["action"], x["reason"]) for x in rows] == [("profile", ""), ("phone_reveal", "回访评价")]

    for headers in (operator, other, login(Role.WORKER), login(Role.ORG_ADMIN)):
        assert client.get("/api/v1/audit", headers=headers).status_code == 403
        assert client.get("/api/v1/audit/export.csv", headers=headers).status_code == 403


def test_no_endpoint_changes_or_deletes_a_record(client, resident, operator, admin, session_factory) -> None:
    client.get(f"/api/v1/residents/{resident}", headers=operator)
    [row] = records(session_factory)
    spec = client.app.openapi()["paths"]
    audit_paths = {p: set(ops) for p, ops in spec.items() if p.startswith("/api/v1/audit")}
    assert audit_paths == {"/api/v1/audit": {"get"}, "/api/v1/audit/export.csv": {"get"}}
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        for path in ("/api/v1/audit", f"/api/v1/audit/{row.id}"):
            assert client.request(method, path, headers=admin).status_code in (404, 405)
    assert [(r.id, r.action, r.reason) for r in records(session_factory)] == [(row.id, "profile", "")]
