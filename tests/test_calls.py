"""Calls: events stored once per call, the calls list, the Asterisk path end to end (the fixtures
replayed over a real socket into the running app), screen pops over real SSE, the ingest
endpoint, and orders linked to the call they were taken on."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dispatch.benchmarks.telephony import SseReader, serve_in_thread
from dispatch.calls.events import (
    CallAnswered,
    CallEnded,
    CallRinging,
    DigitsEntered,
    VoicemailRecorded,
    event_to_dict,
)
from dispatch.calls.recorder import record_event
from dispatch.live.hub import EventHub
from models import Call, Resident, ResidentPhone, Role, User
from telephony.fake_ami import AmiServer, Transcript
from tests.support.waiting import until, wait_until

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "ami"
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def answered_call(call_id: str = "L1", caller: str = "13800138000", ext: str = "1001") -> list:
    return [
        CallRinging(call_id, "simulator", caller, "12345", "hotline", None, at(0)),
        CallRinging(call_id, "simulator", caller, "12345", "hotline", ext, at(6)),
        CallAnswered(call_id, "simulator", ext, at(9)),
        CallEnded(call_id, "simulator", at(104), "answered", 9, 95, caller, "hotline", ext, at(0), at(9)),
    ]


@pytest.fixture
def resident(session_factory) -> int:
    with session_factory() as s:
        r = Resident(name="张秀英", address="文二路168号 翠苑一区 3幢2单元501室", tags=["独居老人"])
        r.phones.append(ResidentPhone(e164="+8613800138000", is_primary=True))
        s.add(r)
        s.commit()
        return r.id


# --- the recorder ---------------------------------------------------------------------------------


def test_an_answered_call_is_one_row_and_replays_change_nothing(session, resident) -> None:
    from tests.factories import make_user

    operator = make_user(session, role=Role.OPERATOR, extension="1001")
    for event in answered_call():
        record_event(session, event, region="CN")
    session.commit()
    call = session.scalars(select(Call)).one()
    assert (call.caller, call.resident_id, call.operator_ext, call.operator_id) == (
        "+8613800138000",
        resident,
        "1001",
        operator.id,
    )
    assert (call.started_at, call.answered_at, call.ended_at) == (at(0), at(9), at(104))
    assert (call.hold_seconds, call.talk_seconds, call.disposition.value) == (9, 95, "answered")
    before = {c.name: getattr(call, c.name) for c in Call.__table__.columns}
    # An AMI reconnect or webhook retry replays everything, and a late second end disagrees.
    for event in [
        *answered_call(),
        CallEnded("L1", "simulator", at(300), "abandoned", 1, 0, "", None, None, None, None),
    ]:
        record_event(session, event, region="CN")
    session.commit()
    session.expire_all()
    assert session.scalar(select(func.count(Call.id))) == 1
    assert {c.name: getattr(session.get(Call, call.id), c.name) for c in Call.__table__.columns} == before


def test_an_end_alone_creates_the_call(session) -> None:
    record_event(
        session,
        CallEnded(
            "L9", "asterisk", at(60), "abandoned", 40, 0, "057188881234", "hotline", None, at(20), None
        ),
        region="CN",
    )
    call = session.scalars(select(Call)).one()
    assert (call.caller, call.started_at, call.disposition.value, call.hold_seconds) == (
        "+8657188881234",
        at(20),
        "abandoned",
        40,
    )
    assert call.resident_id is None and call.direction.value == "inbound"


def test_voicemail_digits_and_a_withheld_number(session) -> None:
    for event in (
        CallRinging("CA1", "twilio", "anonymous", "+8657100000000", None, None, at(0)),
        DigitsEntered("CA1", "twilio", "2", at(5)),
        VoicemailRecorded("CA1", "twilio", "https://example.org/rec/RE1", "anonymous", at(40)),
        CallEnded("CA1", "twilio", at(41), "abandoned", 0, 0, "anonymous", None, None, at(0), None),
    ):
        record_event(session, event, region="CN")
    call = session.scalars(select(Call)).one()
    assert (call.caller, call.ivr_digits, call.recording_url) == (
        "anonymous",
        "2",
        "https://example.org/rec/RE1",
    )
    assert call.disposition.value == "voicemail"  # they left a message: not an abandoned call


def test_the_same_call_id_from_two_sources_is_two_calls(session) -> None:
    for source in ("asterisk", "simulator"):
        record_event(session, CallRinging("X", source, "13800138000", "", None, None, at(0)), region="CN")
    assert session.scalar(select(func.count(Call.id))) == 2


# --- the hub --------------------------------------------------------------------------------------


def test_hub_addresses_users_roles_and_replays_what_was_missed() -> None:
    async def scenario() -> None:
        hub = EventHub(history=10, queue_size=3)
        hub.bind(asyncio.get_running_loop())
        op = hub.subscribe(1, "operator")
        sup = hub.subscribe(2, "supervisor")
        hub.publish(["user:1"], "screen_pop", {"n": 1})
        hub.publish(["role:supervisor"], "call", {"n": 2})
        first = hub.publish(["all"], "notification", {"n": 3})
        await asyncio.to_thread(hub.publish, ["user:1"], "call", {"n": 4})  # from another thread
        assert await until(lambda: op.queue.qsize() == 3 and sup.queue.qsize() == 2)
        assert [op.queue.get_nowait().data["n"] for _ in range(op.queue.qsize())] == [1, 3, 4]
        assert [sup.queue.get_nowait().data["n"] for _ in range(sup.queue.qsize())] == [2, 3]
        assert first.id > 1_700_000_000_000  # from the clock: ids keep growing across restarts
        # A reconnect with Last-Event-ID gets the later messages meant for it.
        again = hub.subscribe(1, "operator", last_event_id=first.id)
        assert [again.queue.get_nowait().data["n"]] == [4] and again.queue.empty()
        # A stalled subscriber loses the oldest messages, the publisher never waits.
        for n in range(5):
            hub.publish(["user:1"], "call", {"n": 10 + n})  # on the loop's own thread: delivered at once
        assert [op.queue.get_nowait().data["n"] for _ in range(3)] == [12, 13, 14] and op.dropped == 2
        hub.unsubscribe(op)
        assert hub.subscribers == 2

    asyncio.run(scenario())


# --- HTTP: list, ingest, roles --------------------------------------------------------------------


def ingest(client, headers, events) -> None:
    for event in events:
        r = client.post("/api/v1/telephony/events", json=event_to_dict(event), headers=headers)
        assert r.status_code == 202, r.text
    client.app.state.ctx.live().ingest.drain()


def test_calls_list_and_filters(client, login, resident) -> None:
    admin = login(Role.ADMIN)
    ingest(client, admin, answered_call("A"))
    ingest(client, admin, answered_call("B", caller="13912345678", ext="1002")[:1])
    ingest(
        client,
        admin,
        [
            CallEnded(
                "B", "simulator", at(50), "abandoned", 50, 0, "13912345678", "hotline", None, at(0), None
            )
        ],
    )
    ops = login(Role.OPERATOR)
    body = client.get("/api/v1/calls", headers=ops).json()
    assert body["total"] == 2
    by_id = {c["external_id"]: c for c in body["items"]}
    a = by_id["A"]
    assert {
        k: a[k] for k in ("direction", "caller", "operator", "queue", "hold_seconds", "talk_seconds")
    } == {
        "direction": "inbound",
        "caller": None,  # masked: caller_national
        "operator": "1001",
        "queue": "hotline",
        "hold_seconds": 9,
        "talk_seconds": 95,
    }
    assert a["disposition"] == "answered" and a["order_ids"] == [] and a["resident_id"] == resident
    assert by_id["B"]["disposition"] == "abandoned" and by_id["B"]["operator"] is None
    assert set(a) >= {"id", "started_at", "answered_at", "ended_at"}
    query = {"caller": "139 1234 5678"}
    assert [
        c["external_id"] for c in client.get("/api/v1/calls", params=query, headers=ops).json()["items"]
    ] == ["B"]
    query = {"disposition": "answered", "operator": "1001"}
    assert client.get("/api/v1/calls", params=query, headers=ops).json()["total"] == 1
    window = {"from": at(0).isoformat(), "to": at(1).isoformat()}
    assert client.get("/api/v1/calls", params=window, headers=ops).json()["total"] == 2
    window = {"from": at(1).isoformat()}
    assert client.get("/api/v1/calls", params=window, headers=ops).json()["total"] == 0
    r = client.get("/api/v1/calls", params={"from": "2026-11-20T09:00:00"}, headers=ops)
    assert r.status_code == 422 and r.json()["message"].startswith("开始时间：请带上时区")
    one = client.get(f"/api/v1/calls/{a['id']}", headers=ops).json()
    assert one == a
    assert client.get("/api/v1/calls/999999", headers=ops).status_code == 404


def test_calls_and_ingest_roles(client, login) -> None:
    for role in (Role.WORKER, Role.ORG_ADMIN):
        assert client.get("/api/v1/calls", headers=login(role)).status_code == 403
    event = event_to_dict(answered_call()[0])
    for role in (Role.OPERATOR, Role.WORKER):
        assert client.post("/api/v1/telephony/events", json=event, headers=login(role)).status_code == 403
    assert client.post("/api/v1/telephony/events", json=event).status_code == 401


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"type": "hangup"}, "type"),
        ({"at": "yesterday"}, "at"),
        ({"at": "2026-11-20T09:00:00"}, "timezone-aware"),
        ({"source": "skype"}, "source"),
        ({"caller": 138}, "caller"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_ingest_rejects_bad_events_and_stores_nothing(client, login, session_factory, change, field) -> None:
    body = event_to_dict(answered_call()[0]) | change
    r = client.post("/api/v1/telephony/events", json=body, headers=login(Role.ADMIN))
    assert r.status_code == 400 and r.json()["error"] == "invalid_event" and field in r.json()["detail"]
    client.app.state.ctx.live().ingest.drain()
    with session_factory() as s:
        assert s.scalar(select(func.count(Call.id))) == 0
    r = client.post("/api/v1/telephony/events", json=[body], headers=login(Role.ADMIN))
    assert r.status_code == 400


def test_an_order_taken_on_a_call_is_linked_to_it(client, login, session_factory) -> None:
    from tests.factories import load_catalogue

    with session_factory() as s:
        load_catalogue(s)
        s.commit()
    admin, ops = login(Role.ADMIN), login(Role.OPERATOR)
    ingest(client, admin, answered_call("L7", caller="13700001111")[:3])
    call = client.get("/api/v1/calls", headers=ops).json()["items"][0]
    assert call["resident_id"] is None  # an unknown number
    body = {
        "caller_phone": "137 0000 1111",
        "resident_name": "李明",
        "description": "家里水管爆了",
        "channel": "phone",
    }
    r = client.post("/api/v1/orders", json=body | {"call_id": call["id"]}, headers=ops)
    assert r.status_code == 201, r.text
    after = client.get(f"/api/v1/calls/{call['id']}", headers=ops).json()
    assert after["order_ids"] == [r.json()["id"]] and after["resident_id"] is not None
    # The resident's history now shows the call.
    history = client.get(f"/api/v1/residents/{after['resident_id']}", headers=ops).json()
    assert [c["id"] for c in history["calls"]] == [call["id"]]
    r = client.post("/api/v1/orders", json=body | {"call_id": 99999}, headers=ops)
    assert r.status_code == 400 and "call_id" in r.json()["detail"]


# --- Asterisk end to end --------------------------------------------------------------------------


def _transcripts() -> Transcript:
    if not FIXTURES.exists():
        pytest.skip(f"AMI transcripts {FIXTURES} not found (expected ../shared next to the repository)")
    answered = Transcript.load(FIXTURES / "inbound_answered.txt")
    abandoned = Transcript.load(FIXTURES / "inbound_abandoned.txt")
    return Transcript(answered.banner, answered.events + abandoned.events)


def _asterisk_app(settings, server: AmiServer):
    from dispatch.app import create_app

    asterisk = {
        "enabled": True,
        "host": server.host,
        "port": server.port,
        "username": "callcenter",
        "secret": "s3cret",
    }
    return create_app(settings.model_copy(update={"asterisk": settings.asterisk.model_validate(asterisk)}))


@pytest.mark.timeout(60)
@pytest.mark.parametrize("fault", [None, "drop_mid_call", "drop_and_restart"])
def test_asterisk_calls_reach_the_calls_list_once(settings, session_factory, fault) -> None:
    from fastapi.testclient import TestClient

    from tests.factories import make_user

    both = _transcripts()
    mid_call = next(i for i, p in enumerate(both.events) if b"Event: AgentConnect" in p) + 2
    options = {}
    if fault == "drop_mid_call":
        options = {"drop_after": mid_call, "resume": "continue"}
    elif fault == "drop_and_restart":
        options = {"drop_after": mid_call, "resume": "restart"}  # the PBX sends everything again
    with session_factory() as s:
        make_user(s, role=Role.OPERATOR, extension="1001", username="op1001")
        s.commit()
    with AmiServer(both, **options) as server, TestClient(_asterisk_app(settings, server)) as client:
        headers = _supervisor_headers(session_factory, settings)

        def ended() -> list[dict]:
            items = client.get("/api/v1/calls", headers=headers).json()["items"]
            return [c for c in items if c["ended_at"]]

        assert wait_until(lambda: len(ended()) == 2 and server.replay_done.is_set())
        time.sleep(0.5)  # a duplicate would arrive now
        calls = client.get("/api/v1/calls", headers=headers).json()
        if fault:
            assert server.connections == 2
    assert calls["total"] == 2
    abandoned, answered = sorted(calls["items"], key=lambda c: c["disposition"])
    assert answered["disposition"] == "answered" and answered["talk_seconds"] == 95
    assert answered["operator"] == "1001" and answered["caller_national"] == "138****8000"
    assert answered["hold_seconds"] == 6 and answered["queue"] == "hotline"
    assert abandoned["disposition"] == "abandoned" and abandoned["talk_seconds"] == 0
    assert abandoned["operator"] is None
    with session_factory() as s:
        op = s.scalar(select(User).where(User.username == "op1001"))
        assert s.scalar(select(Call.operator_id).where(Call.id == answered["id"])) == op.id


def _supervisor_headers(session_factory, settings) -> dict[str, str]:
    from tests.factories import bearer, make_user

    with session_factory() as s:
        user = make_user(s, role=Role.SUPERVISOR)
        s.commit()
    return bearer(user, settings)


# --- screen pop over real HTTP --------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_screen_pop_reaches_the_ringing_operator_only(settings, session_factory, resident) -> None:
    import httpx

    from dispatch.app import create_app
    from tests.factories import bearer, make_user

    with session_factory() as s:
        users = {
            name: make_user(s, role=role, extension=ext, username=name)
            for name, role, ext in (
                ("op1", Role.OPERATOR, "1001"),
                ("op2", Role.OPERATOR, "1002"),
                ("boss", Role.SUPERVISOR, None),
                ("admin", Role.ADMIN, None),
            )
        }
        s.commit()
    tokens = {name: bearer(u, settings)["Authorization"].removeprefix("Bearer ") for name, u in users.items()}

    with serve_in_thread(create_app(settings)) as base:
        assert httpx.get(f"{base}/api/v1/events", timeout=5).status_code == 401
        bad = httpx.get(f"{base}/api/v1/events", params={"access_token": "nope"}, timeout=5)
        assert bad.status_code == 401 and bad.json()["error"] == "not_authenticated"
        with (
            SseReader(base, tokens["op1"]) as op1,
            SseReader(base, tokens["op2"]) as op2,
            SseReader(base, tokens["boss"]) as boss,
        ):
            admin = {"Authorization": f"Bearer {tokens['admin']}"}
            for event in answered_call("POP1")[:2]:
                assert (
                    httpx.post(
                        f"{base}/api/v1/telephony/events", json=event_to_dict(event), headers=admin
                    ).status_code
                    == 202
                )
            _, pop = op1.wait("screen_pop", lambda d: d["call"]["external_id"] == "POP1", timeout=5)
            assert pop["known_caller"] is True and pop["resident"]["id"] == resident
            assert pop["resident"]["name"] == "张秀英" and pop["resident"]["tags"] == ["独居老人"]
            assert pop["call"]["caller"] == "+8613800138000" and pop["call"]["operator"] == "1001"
            assert pop["open_orders"] == [] and isinstance(pop["recent_calls"], list)
            # Supervisors see call updates but no pops; the other operator sees nothing of it.
            _, update = boss.wait("call", lambda d: d["external_id"] == "POP1", timeout=5)
            # … with the number masked: only the operator rung sees it whole, in the pop.
            assert update["caller"] is None and update["caller_national"] == "138****8000"
            with pytest.raises(TimeoutError):
                op2.wait("screen_pop", lambda d: True, timeout=0.5)
            with pytest.raises(TimeoutError):
                boss.wait("screen_pop", lambda d: True, timeout=0.2)
            # An unknown caller still pops, with nothing to show.
            event = CallRinging("POP2", "simulator", "13711112222", "", "hotline", "1002", at(0))
            httpx.post(f"{base}/api/v1/telephony/events", json=event_to_dict(event), headers=admin)
            _, pop = op2.wait("screen_pop", lambda d: d["call"]["external_id"] == "POP2", timeout=5)
            assert pop["known_caller"] is False and pop["resident"] is None


@pytest.mark.timeout(60)
def test_the_server_runs_the_simulator_when_configured(settings, session_factory) -> None:
    from fastapi.testclient import TestClient

    from dispatch.app import create_app
    from tests.factories import make_user

    with session_factory() as s:
        make_user(s, role=Role.OPERATOR, extension="1001")
        s.commit()
    server = settings.server.model_copy(update={"simulator": True, "simulator_interval_seconds": 0.2})
    headers = _supervisor_headers(session_factory, settings)
    with TestClient(create_app(settings.model_copy(update={"server": server}))) as client:
        assert client.app.state.telephony.simulator.calls_per_minute == pytest.approx(300)

        def simulated() -> list[dict]:
            return [
                c
                for c in client.get("/api/v1/calls", headers=headers).json()["items"]
                if c["source"] == "simulator"
            ]

        assert wait_until(lambda: len(simulated()) >= 3)
    assert all(c["external_id"].startswith("sim-") for c in simulated_after(session_factory))


def simulated_after(session_factory) -> list[dict]:
    with session_factory() as s:
        return [
            {"external_id": e} for e in s.scalars(select(Call.external_id).where(Call.source == "simulator"))
        ]


@pytest.mark.timeout(60)
def test_a_reconnecting_console_gets_what_it_missed(settings, session_factory) -> None:
    import json

    import httpx

    from dispatch.app import create_app
    from tests.factories import bearer, make_user

    with session_factory() as s:
        boss = make_user(s, role=Role.SUPERVISOR)
        s.commit()
    headers = bearer(boss, settings)
    app = create_app(settings)
    with serve_in_thread(app) as base:
        hub = app.state.ctx.live().hub
        first = hub.publish(["role:supervisor"], "notification", {"body": "one"})
        hub.publish(["role:supervisor"], "notification", {"body": "two"})
        hub.publish(["user:0"], "notification", {"body": "not for you"})
        for how in ({"params": {"since": str(first.id)}}, {"headers": {"Last-Event-ID": str(first.id)}}):
            with httpx.stream(
                "GET",
                f"{base}/api/v1/events",
                headers=headers | how.get("headers", {}),
                params=how.get("params"),
                timeout=10,
            ) as r:
                data: list[dict] = []
                for line in r.iter_lines():
                    if line.startswith("data:"):
                        data.append(json.loads(line[5:]))
                        if len(data) == 2:
                            break
            assert data[0]["username"] == boss.username and data[1] == {"body": "two"}
