"""Residents' personal data: each role sees the minimum it needs (dispatch.residents.privacy).

- a provider's intake with a known resident's number reveals nothing of the resident;
- numbers are masked in lists, calls, callbacks, searches and exports, the whole number only where
  the role needs it (the operator rung, a provider on its own order's detail) or on a recorded
  reveal with a reason;
- names and tags follow the table in ``dispatch/residents/privacy.py``.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from dispatch.residents.privacy import (
    mask_actor,
    mask_address,
    mask_name,
    mask_phone,
    mask_phones_in_text,
)
from models import Order, ProviderKind, Resident, ResidentPhone, Role
from tests.factories import START, add_provider, make_provider, missed_call, new_order

pytestmark = pytest.mark.manual_dispatch

PHONE = "+8613800138000"
MASKED = "138****8000"
FULL = "138 0013 8000"
NAME = "王桂兰"
REGISTERED = "文新家园5幢1单元302室"
REGISTERED_AT = (30.3005, 120.1005)  # 文新家园, in the small test district
TAGS = ["独居老人", "低保"]
VISIT_TAGS = ["独居老人"]  # 低保 says nothing the visit needs
DAUGHTER = "13912345678"


def test_masking_helpers() -> None:
    assert mask_phone("+8613800138000") == "138****8000"
    assert mask_phone("+8657188881234") == "0571****1234"  # a landline keeps its 0 and area code
    assert mask_phone("+861065529988") == "010****9988"
    assert mask_phone("+14155550100") == "+1 ****0100"
    assert mask_phone("anonymous") == "****" and mask_phone("") == ""
    assert (mask_name("王桂兰"), mask_name("李娜"), mask_name("未留名"), mask_name("")) == (
        "王**",
        "李*",
        "未留名",
        "",
    )
    assert mask_address("文二路168号 翠苑一区 3幢2单元501室") == "文二路*号 翠苑一区 *幢*单元*室"
    assert mask_address("学院路七十七号 五幢三零二室") == "学院路*号 *幢*室"
    text = "漏水，联系女儿13912345678或0571-88881234；工单20261123-0042"
    assert mask_phones_in_text(text) == "漏水，联系女儿139****5678或0571****1234；工单20261123-0042"
    assert mask_actor("sms:+8613800138000") == "sms:138****8000"
    assert mask_actor("operator:operator1") == "operator:operator1"


@pytest.fixture
def known(session_factory, world) -> int:
    """A registered resident: name, tags, a registered address with coordinates, a mobile."""
    with session_factory() as s:
        r = Resident(name=NAME, address=REGISTERED, lat=REGISTERED_AT[0], lon=REGISTERED_AT[1], tags=TAGS)
        r.phones.append(ResidentPhone(e164=PHONE, is_primary=True))
        s.add(r)
        s.commit()
        return r.id


@pytest.fixture
def org(session_factory, world) -> dict[str, int]:
    """An organisation with one worker near the order point."""
    with session_factory() as s:
        organisation = make_provider(s, kind=ProviderKind.ORGANISATION, name="阳光服务社")
        s.commit()
        org_id = organisation.id
    worker = add_provider(session_factory, world, km=0.5, organisation_id=org_id)
    return {"org": org_id, "worker": worker}


def leaks(payload: object) -> list[str]:
    """Which of the resident's facts a response carries anywhere."""
    text = str(payload)
    facts = {"name": NAME, "registered address": REGISTERED, "phone": PHONE, "national": FULL}
    facts |= {f"tag {t}": t for t in TAGS}
    found = [what for what, value in facts.items() if value in text]
    if f"{REGISTERED_AT[0]}" in text:
        found.append("registered coordinates")
    return found


# --- a provider's intake ------------------------------------------------------------------------


def visit(**body) -> dict:
    return {
        "caller_phone": "13800138000",
        "description": "上门时老人说家里水管漏水",
        "channel": "visit",
        "consent": {"given": True, "method": "verbal"},
    } | body


def test_a_workers_intake_with_a_known_number_reveals_nothing(
    client, known, org, login, session_factory
) -> None:
    worker = login(Role.WORKER, provider_id=org["worker"])
    # No address: refused, asking for one; the registered address is not used, nor shown.
    r = client.post("/api/v1/orders", json=visit(), headers=worker)
    assert r.status_code == 400 and r.json()["error"] == "address_required"
    assert "地址" in r.json()["message"] and leaks(r.json()) == []

    # With the address the worker typed (and another name): the order goes there, and the answer
    # says nothing of the resident — not the id, not whether the number or the name is on file.
    r = client.post("/api/v1/orders", json=visit(address="阳光花园3幢", resident_name="李四"), headers=worker)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["address"] == "阳光花园3幢" and body["lat"] != REGISTERED_AT[0]
    assert (body["resident_id"], body["resident"], body["possible_duplicate_of"]) == (None, None, None)
    assert (body["resident_created"], body["name_mismatch"]) == (None, None)
    assert body["caller_phone"] is None and body["location_source"] != "resident"
    assert leaks(body) == []
    with session_factory() as s:
        order = s.get(Order, body["id"])
        assert (order.address, order.resident_id) == ("阳光花园3幢", known)  # still the resident's order

    # A provider cannot tie its request to a call (and so to the caller's records).
    r = client.post("/api/v1/orders", json=visit(address="阳光花园3幢", call_id=1), headers=worker)
    assert r.status_code == 403 and leaks(r.json()) == []
    # Organisation admins log home-visit requests the same way, and learn as little.
    org_admin = login(Role.ORG_ADMIN, provider_id=org["org"])
    r = client.post("/api/v1/orders", json=visit(channel="phone", address="阳光花园3幢"), headers=org_admin)
    assert r.status_code == 403 and leaks(r.json()) == []
    r = client.post("/api/v1/orders", json=visit(address="阳光花园3幢"), headers=org_admin)
    assert r.status_code == 201 and leaks(r.json()) == []


def test_the_call_centre_intake_still_uses_the_registered_address(client, known, operator) -> None:
    # The contrast that shows what the worker was spared: an operator's order without an address
    # goes to the registered one, and the answer names the resident.
    r = client.post(
        "/api/v1/orders",
        json={"caller_phone": "13800138000", "description": "家里水管漏水", "channel": "phone"},
        headers=operator,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["address"], body["location_source"], body["resident_id"]) == (REGISTERED, "resident", known)
    assert body["resident"]["name"] == NAME and body["caller_phone"] == PHONE


# --- masking per role and view ------------------------------------------------------------------


def listed(client, headers, order_id: int) -> dict:
    items = client.get("/api/v1/orders", params={"limit": 100}, headers=headers).json()["items"]
    return next(o for o in items if o["id"] == order_id)


def detail(client, headers, order_id: int) -> dict:
    r = client.get(f"/api/v1/orders/{order_id}", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def seen(o: dict) -> tuple:
    """(phone, shown number, access, resident id, name, tags, description) as the payload has them."""
    r = o["resident"]
    return (
        o["caller_phone"],
        o["caller_phone_national"],
        o["caller_phone_access"],
        o["resident_id"],
        r and r["name"],
        r and r["tags"],
        DAUGHTER in o["description"],
    )


STAFF_LIST = (None, MASKED, "reveal", "id", "王**", None, False)
STAFF_DETAIL = (None, MASKED, "reveal", "id", NAME, TAGS, True)
NOTHING = (None, MASKED, "none", None, None, None, False)
NOTHING_DETAIL = (None, MASKED, "none", None, None, None, True)
HOLDER_LIST = (None, MASKED, "detail", None, "王**", VISIT_TAGS, False)
HOLDER_DETAIL = (PHONE, FULL, "full", None, NAME, VISIT_TAGS, True)


def test_what_each_role_sees_of_the_resident(
    client, known, org, operator, login, world, session_factory
) -> None:
    order = new_order(client, operator, description=f"厨房水管漏水，联系女儿{DAUGHTER}")
    oid = order["id"]
    staff = {role: login(role) for role in (Role.ADMIN, Role.SUPERVISOR)} | {Role.OPERATOR: operator}
    worker = login(Role.WORKER, provider_id=org["worker"])
    org_admin = login(Role.ORG_ADMIN, provider_id=org["org"])
    other = login(Role.WORKER, provider_id=add_provider(session_factory, world, km=3.0))

    def expect(headers, in_list, in_detail) -> None:
        resolve = {"id": known}
        want_list = tuple(resolve.get(v, v) if isinstance(v, str) else v for v in in_list)
        want_detail = tuple(resolve.get(v, v) if isinstance(v, str) else v for v in in_detail)
        assert seen(listed(client, headers, oid)) == want_list
        assert seen(detail(client, headers, oid)) == want_detail

    for headers in staff.values():
        expect(headers, STAFF_LIST, STAFF_DETAIL)

    # Offered: the address to decide on, nothing of the resident.
    assert (
        client.post(
            f"/api/v1/orders/{oid}/dispatch", json={"provider_id": org["worker"]}, headers=operator
        ).status_code
        == 200
    )
    for headers in (worker, org_admin):
        expect(headers, NOTHING, NOTHING_DETAIL)
        assert listed(client, headers, oid)["address"] == "阳光花园3幢"
    assert client.get(f"/api/v1/orders/{oid}", headers=other).status_code == 404

    # Held: the name and the tags that matter at the door; the number in the detail.
    assert client.post(f"/api/v1/orders/{oid}/accept", headers=worker).status_code == 200
    for headers in (worker, org_admin):
        expect(headers, HOLDER_LIST, HOLDER_DETAIL)
    for headers in staff.values():
        expect(headers, STAFF_LIST, STAFF_DETAIL)

    # Done: the visit is over, and so is the need.
    assert (
        client.post(f"/api/v1/orders/{oid}/complete", json={"note": "修好了"}, headers=worker).status_code
        == 200
    )
    for headers in (worker, org_admin):
        expect(headers, NOTHING, NOTHING_DETAIL)


def test_the_worker_at_the_door_sees_mobility_and_hearing_and_no_other_tags(
    client, org, operator, login, session_factory
) -> None:
    """行动不便 and 听力差 tell the worker how to approach and what to bring; benefit statuses and
    tags outside the visit list stay with the call centre."""
    every = ["行动不便", "低保", "听力差", "优抚对象", "重点关注"]
    order = new_order(client, operator, caller_phone="13700137000", resident_name="赵桂英")
    with session_factory() as s:
        s.get_one(Resident, s.get_one(Order, order["id"]).resident_id).tags = every
        s.commit()
    r = client.post(
        f"/api/v1/orders/{order['id']}/dispatch", json={"provider_id": org["worker"]}, headers=operator
    )
    assert r.status_code == 200, r.text
    worker = login(Role.WORKER, provider_id=org["worker"])
    assert client.post(f"/api/v1/orders/{order['id']}/accept", headers=worker).status_code == 200

    jobs = client.get("/api/v1/me/jobs", headers=worker).json()["items"]
    card = next(j for j in jobs if j["order_id"] == order["id"])
    assert card["resident"] == {"name": "赵桂英", "tags": ["行动不便", "听力差"]}
    assert detail(client, worker, order["id"])["resident"]["tags"] == ["行动不便", "听力差"]
    assert listed(client, worker, order["id"])["resident"]["tags"] == ["行动不便", "听力差"]
    assert detail(client, operator, order["id"])["resident"]["tags"] == every


def test_timelines_mask_residents_numbers_and_keep_resident_facts_from_providers(
    client, known, org, operator, login, session_factory
) -> None:
    from dispatch.orders.timeline import record_event

    order = new_order(client, operator, resident_name="王桂芳")  # a name mismatch, recorded on create
    with session_factory() as s:
        o = s.get(Order, order["id"])
        record_event(s, o, action="rate", at=START, actor=f"sms:{PHONE}", data={"stars": 5})
        s.commit()
    client.post(
        f"/api/v1/orders/{order['id']}/dispatch", json={"provider_id": org["worker"]}, headers=operator
    )
    for headers, facts in ((operator, True), (login(Role.WORKER, provider_id=org["worker"]), False)):
        timeline = detail(client, headers, order["id"])["timeline"]
        assert [e["actor"] for e in timeline if e["action"] == "rate"] == ["sms:138****8000"]
        created = next(e for e in timeline if e["action"] == "create")
        assert ("name_mismatch" in created["data"]) is facts and (
            "resident_created" in created["data"]
        ) is facts


def test_calls_callbacks_and_searches_mask_numbers(client, known, operator, login) -> None:
    from dispatch.calls.events import event_to_dict

    admin = login(Role.ADMIN)
    start = START
    for event in missed_call("M1", start):
        assert (
            client.post("/api/v1/telephony/events", json=event_to_dict(event), headers=admin).status_code
            == 202
        )
    client.app.state.ctx.live().ingest.drain()
    for headers in (operator, admin, login(Role.SUPERVISOR)):
        call = client.get("/api/v1/calls", headers=headers).json()["items"][0]
        assert (call["caller"], call["caller_national"]) == (None, MASKED)
        callback = client.get("/api/v1/callbacks", headers=headers).json()["items"][0]
        assert (callback["caller"], callback["caller_national"]) == (None, MASKED)
        assert callback["resident"] == {
            "id": known,
            "name": NAME,
            "tags": TAGS,
        }  # the worklist names whom to call
    found = client.get("/api/v1/residents", params={"q": NAME}, headers=operator).json()["items"][0]
    assert found["phones"] == [{"e164": None, "national": MASKED, "kind": "mobile", "is_primary": True}]
    profile = client.get(f"/api/v1/residents/{known}", headers=operator).json()
    assert [p["e164"] for p in profile["phones"]] == [None] and profile["calls"][0]["caller"] == MASKED
    assert PHONE not in str(profile) and FULL not in str(profile)


def test_a_reveal_needs_a_reason_names_one_thing_and_is_for_the_call_centre(
    client, known, org, operator, login
) -> None:
    order = new_order(client, operator)
    for body in ({"order_id": order["id"]}, {"order_id": order["id"], "reason": " "},
                 {"order_id": order["id"], "resident_id": known, "reason": "回访评价"}, {"reason": "回访评价"}):  # fmt: skip
        r = client.post("/api/v1/phones/reveal", json=body, headers=operator)
        assert r.status_code == 422, body
        assert r.json()["message"]
    r = client.post(
        "/api/v1/phones/reveal", json={"order_id": order["id"], "reason": "回访评价"}, headers=operator
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"resident_id": known, "phones": [{"e164": PHONE, "national": FULL, "kind": None}]}
    r = client.post(
        "/api/v1/phones/reveal", json={"resident_id": known, "reason": "核实信息"}, headers=operator
    )
    assert r.json()["phones"][0]["e164"] == PHONE
    client.post(
        f"/api/v1/orders/{order['id']}/dispatch", json={"provider_id": org["worker"]}, headers=operator
    )
    for role, provider in ((Role.WORKER, org["worker"]), (Role.ORG_ADMIN, org["org"])):
        body = {"order_id": order["id"], "reason": "上门联系"}
        r = client.post("/api/v1/phones/reveal", json=body, headers=login(role, provider_id=provider))
        assert r.status_code == 403 and PHONE not in r.text
    r = client.post(
        "/api/v1/phones/reveal", json={"order_id": 999999, "reason": "回访评价"}, headers=operator
    )
    assert r.status_code == 404


def export(client, headers, **params) -> tuple[int, list[dict]]:
    r = client.get("/api/v1/exports/orders.csv", params={"layout": "raw"} | params, headers=headers)
    if r.status_code != 200:
        return r.status_code, [r.json()]
    assert r.content.startswith("\ufeff".encode())
    return 200, list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))


def test_exports_are_masked_unless_an_admin_gives_a_reason(client, known, operator, login) -> None:
    new_order(
        client, operator, description=f"厨房水管漏水，联系女儿{DAUGHTER}", address="阳光花园3幢2单元501室"
    )
    admin, supervisor = login(Role.ADMIN), login(Role.SUPERVISOR)
    period = {"from": (START - timedelta(days=1)).isoformat(), "to": (START + timedelta(days=1)).isoformat()}
    for headers in (admin, supervisor):
        status, rows = export(client, headers, **period)
        assert status == 200 and len(rows) == 1
        row = rows[0]
        assert (row["resident_name"], row["caller_phone"], row["resident_tags"], row["resident_id"]) == (
            "王**",
            MASKED,
            "",
            "",
        )
        assert row["address"] == "阳光花园*幢*单元*室" and "139****5678" in row["description"]
        assert leaks(rows) == [] and DAUGHTER not in str(rows)
    # Personal data: admins only, with a reason.
    assert export(client, supervisor, personal="true", reason="区民政局核查")[0] == 403
    status, body = export(client, admin, personal="true", **period)
    assert status == 400 and body[0]["error"] == "reason_required"
    status, rows = export(client, admin, personal="true", reason="区民政局核查", **period)
    assert status == 200
    row = rows[0]
    assert (row["resident_name"], row["caller_phone"], row["resident_tags"]) == (NAME, FULL, "独居老人、低保")
    assert row["resident_id"] == str(known) and DAUGHTER in row["description"]
    for role in (Role.OPERATOR, Role.WORKER, Role.ORG_ADMIN):
        assert export(client, login(role), **period)[0] == 403
