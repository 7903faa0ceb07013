"""The callback worklist: missed, abandoned and voicemail calls become work, repeat calls fold in,
every callback closes with an outcome, on both databases and through the real ingest path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from dispatch.calls.events import CallAnswered, CallEnded, CallRinging, VoicemailRecorded, event_to_dict
from dispatch.calls.ingest import screen_pop
from models import Call, Callback, OrderEvent, Resident, ResidentPhone, Role, call_order
from tests.factories import make_user, new_order

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Wednesday 2026-11-18 10:00 in Hangzhou: operators are in (08:00–20:00 by default).
MORNING = datetime(2026, 11, 18, 10, 0, tzinfo=SHANGHAI).astimezone(UTC)
NIGHT = datetime(2026, 11, 18, 23, 0, tzinfo=SHANGHAI).astimezone(UTC)
CALLER = "13800138000"


def missed(call_id: str, start: datetime, *, caller: str = CALLER, how: str = "missed") -> list:
    return [
        CallRinging(call_id, "simulator", caller, "12345", "hotline", None, start),
        CallEnded(
            call_id,
            "simulator",
            start + timedelta(seconds=40),
            how,
            40,
            0,
            caller,
            "hotline",
            None,
            start,
            None,
        ),
    ]


def voicemail(call_id: str, start: datetime, *, caller: str = CALLER) -> list:
    return [
        CallRinging(call_id, "simulator", caller, "12345", "hotline", None, start),
        VoicemailRecorded(
            call_id,
            "simulator",
            f"https://pbx.example/rec/{call_id}.wav",
            caller,
            start + timedelta(seconds=50),
        ),
        CallEnded(
            call_id,
            "simulator",
            start + timedelta(seconds=60),
            "voicemail",
            20,
            0,
            caller,
            "hotline",
            None,
            start,
            None,
        ),
    ]


def answered(call_id: str, start: datetime, *, caller: str = CALLER, ext: str = "1001") -> list:
    return [
        CallRinging(call_id, "simulator", caller, "12345", "hotline", ext, start),
        CallAnswered(call_id, "simulator", ext, start + timedelta(seconds=5)),
        CallEnded(
            call_id,
            "simulator",
            start + timedelta(seconds=90),
            "answered",
            5,
            85,
            caller,
            "hotline",
            ext,
            start,
            start + timedelta(seconds=5),
        ),
    ]


def ingest(client, headers, events) -> None:
    for event in events:
        r = client.post("/api/v1/telephony/events", json=event_to_dict(event), headers=headers)
        assert r.status_code == 202, r.text
    client.app.state.ctx.live().ingest.drain()


@pytest.fixture
def admin(login) -> dict[str, str]:
    return login(Role.ADMIN)


@pytest.fixture
def resident(session_factory) -> int:
    with session_factory() as s:
        r = Resident(name="王桂兰", address="文二路168号 翠苑一区 3幢2单元501室", tags=["独居老人"])
        r.phones.append(ResidentPhone(e164="+8613800138000", is_primary=True))
        s.add(r)
        s.commit()
        return r.id


def waiting(client, headers, **params) -> dict:
    r = client.get("/api/v1/callbacks", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_missed_abandoned_and_voicemail_calls_wait_oldest_first(client, admin, operator, resident) -> None:
    ingest(client, admin, missed("M1", MORNING))
    ingest(client, admin, missed("A1", MORNING + timedelta(minutes=5), caller="13912345678", how="abandoned"))
    ingest(client, admin, voicemail("V1", NIGHT, caller="057188881234"))
    ingest(client, admin, answered("OK", MORNING, caller="13700000000"))  # answered: nothing to return
    body = waiting(client, operator)
    assert body["total"] == 3
    first, second, third = body["items"]
    # The number is masked in the worklist (POST /api/v1/phones/reveal shows it, with a reason).
    assert (first["caller"], first["caller_national"]) == (None, "138****8000")
    assert (first["reason"], first["call_count"]) == ("missed", 1)
    assert first["resident"] == {"id": resident, "name": "王桂兰", "tags": ["独居老人"]}
    assert datetime.fromisoformat(first["due_at"]) == MORNING + timedelta(minutes=30)
    assert (second["reason"], second["resident"]) == ("abandoned", None)
    assert third["reason"] == "voicemail" and third["recording_url"] == "https://pbx.example/rec/V1.wav"
    assert third["caller_national"] == "0571****1234"  # a landline keeps its 0 and area code
    # At 23:00 the operators are gone: due half an hour after they open at 08:00.
    opening = datetime(2026, 11, 19, 8, 0, tzinfo=SHANGHAI).astimezone(UTC)
    assert datetime.fromisoformat(third["due_at"]) == opening + timedelta(minutes=30)


def test_repeat_calls_fold_into_the_waiting_callback(client, admin, operator, session_factory) -> None:
    ingest(client, admin, missed("M1", MORNING))
    ingest(client, admin, missed("M1", MORNING))  # a replayed call changes nothing
    ingest(client, admin, missed("M2", MORNING + timedelta(minutes=3), how="abandoned"))
    ingest(client, admin, voicemail("V2", MORNING + timedelta(minutes=6)))
    [callback] = waiting(client, operator)["items"]
    assert callback["call_count"] == 3 and callback["reason"] == "missed"
    assert callback["recording_url"] == "https://pbx.example/rec/V2.wav"  # the latest message
    # The operator who takes the next call sees the waiting callback in the screen pop.
    with session_factory() as s:
        popped = screen_pop(s, answered("OK2", MORNING + timedelta(minutes=9))[0], region="CN")
    assert popped["open_callback"]["id"] == callback["id"]
    ingest(client, admin, answered("OK2", MORNING + timedelta(minutes=9)))
    assert waiting(client, operator)["items"][0]["call_count"] == 4  # linked, still waiting
    with session_factory() as s:
        linked = s.scalars(select(Call.external_id).where(Call.callback_id == callback["id"])).all()
    assert sorted(linked) == ["M1", "M2", "OK2", "V2"]


def test_a_withheld_number_cannot_be_called_back(client, admin, operator) -> None:
    ingest(client, admin, missed("W1", MORNING, caller="anonymous"))
    assert waiting(client, operator)["total"] == 0


def test_closing_with_an_outcome(client, admin, operator, session_factory, world) -> None:
    ingest(client, admin, missed("M1", MORNING))
    [callback] = waiting(client, operator)["items"]
    url = f"/api/v1/callbacks/{callback['id']}"
    # Unreachable only after three attempts.
    r = client.post(f"{url}/close", json={"outcome": "unreachable"}, headers=operator)
    assert r.status_code == 409 and r.json()["error"] == "too_few_attempts"
    for n in (1, 2, 3):
        placed = client.post(f"{url}/call", headers=operator)
        assert placed.status_code == 200, placed.text
        assert placed.json()["via"] == "log" and placed.json()["callback"]["attempts"] == n
    # An order outcome needs its order; a duplicate is linked to the open order it repeats.
    r = client.post(f"{url}/close", json={"outcome": "duplicate"}, headers=operator)
    assert r.status_code == 400 and r.json()["error"] == "order_required"
    order = new_order(client, operator)
    r = client.post(
        f"{url}/close",
        json={"outcome": "duplicate", "order_id": order["id"], "note": "问进度"},
        headers=operator,
    )
    assert r.status_code == 200, r.text
    closed = r.json()
    assert (closed["status"], closed["outcome"], closed["order_number"]) == (
        "closed",
        "duplicate",
        order["number"],
    )
    assert closed["closed_by"] and closed["note"] == "问进度"
    with session_factory() as s:
        assert (
            s.scalar(select(func.count()).select_from(call_order).where(call_order.c.order_id == order["id"]))
            == 1
        )
        assert (
            s.scalar(
                select(OrderEvent.action)
                .where(OrderEvent.order_id == order["id"])
                .order_by(OrderEvent.id.desc())
            )
            == "repeat_call"
        )
    again = client.post(f"{url}/close", json={"outcome": "answered"}, headers=operator)
    assert again.status_code == 409 and again.json()["error"] == "callback_closed"
    assert waiting(client, operator)["total"] == 0
    assert waiting(client, operator, status="closed")["items"][0]["id"] == callback["id"]
    # A new missed call from the number opens a new callback.
    ingest(client, admin, missed("M9", MORNING + timedelta(hours=2)))
    assert waiting(client, operator)["total"] == 1


def test_an_order_taken_for_a_callback_closes_it(client, admin, operator, world, session_factory) -> None:
    ingest(client, admin, voicemail("V1", MORNING))
    [callback] = waiting(client, operator)["items"]
    order = new_order(client, operator, callback_id=callback["id"])
    done = waiting(client, operator, status="closed")["items"][0]
    assert (done["outcome"], done["order_id"]) == ("order", order["id"])
    with session_factory() as s:
        calls = s.scalars(select(call_order.c.call_id).where(call_order.c.order_id == order["id"])).all()
        assert calls == [s.get_one(Callback, callback["id"]).first_call_id]
    # A second order cannot take the closed callback; nothing is created.
    r = client.post(
        "/api/v1/orders",
        json={
            "caller_phone": CALLER,
            "description": "再报一次",
            "item_code": "HOME-01",
            "channel": "phone",
            "callback_id": callback["id"],
        },
        headers=operator,
    )
    assert r.status_code == 409


def test_answered_calls_without_an_order_get_an_outcome(client, admin, operator, world) -> None:
    ingest(client, admin, answered("OK", MORNING))
    [call] = client.get("/api/v1/calls", headers=operator).json()["items"]
    url = f"/api/v1/calls/{call['id']}/outcome"
    assert client.post(url, json={"outcome": "unreachable"}, headers=operator).status_code == 400
    r = client.post(url, json={"outcome": "answered"}, headers=operator)
    assert r.status_code == 200 and r.json()["outcome"] == "answered"
    order = new_order(client, operator)
    r = client.post(url, json={"outcome": "duplicate", "order_id": order["id"]}, headers=operator)
    assert r.json()["order_numbers"] == [order["number"]] and r.json()["outcome"] == "duplicate"


def test_only_the_call_centre_works_the_list(client, admin, login) -> None:
    ingest(client, admin, missed("M1", MORNING))
    for role in (Role.WORKER, Role.ORG_ADMIN):
        headers = login(role)
        assert client.get("/api/v1/callbacks", headers=headers).status_code == 403
        assert client.post("/api/v1/callbacks/1/call", headers=headers).status_code == 403


def test_callback_kpis(client, admin, operator, login) -> None:
    ingest(client, admin, missed("M1", MORNING))
    ingest(client, admin, missed("M2", MORNING, caller="13912345678"))
    [first, _] = waiting(client, operator)["items"]
    client.post(f"/api/v1/callbacks/{first['id']}/call", headers=operator)
    day = {
        "from": MORNING.date().isoformat() + "T00:00:00+08:00",
        "to": (MORNING.date() + timedelta(days=1)).isoformat() + "T00:00:00+08:00",
    }
    stats = client.get("/api/v1/stats/summary", params=day, headers=login(Role.SUPERVISOR)).json()
    # The attempt happened now (real clock), long after the 30 minutes: called, but late.
    assert (stats["callbacks"], stats["callbacks_called_on_time"], stats["callbacks_never_called"]) == (
        2,
        0,
        1,
    )
    assert stats["callback_on_time_rate"] == 0.0


@pytest.mark.timeout(90)
def test_click_to_call_rings_the_operator_then_the_resident_through_asterisk(
    settings, session_factory
) -> None:
    from fastapi.testclient import TestClient

    from dispatch.app import create_app
    from telephony.fake_ami import AmiServer, Transcript
    from tests.factories import bearer
    from tests.support.waiting import wait_until

    with session_factory() as s:
        operator = make_user(s, role=Role.OPERATOR, extension="1001")
        nobody = make_user(s, role=Role.OPERATOR)  # no extension
        admin = make_user(s, role=Role.ADMIN)
        s.commit()
    asterisk = {"enabled": True, "username": "callcenter", "secret": "s3cret"}
    with AmiServer(Transcript("Asterisk Call Manager/5.0.1", [])) as server:
        asterisk |= {"host": server.host, "port": server.port}
        app = create_app(settings.model_copy(update={"asterisk": settings.asterisk.model_validate(asterisk)}))
        with TestClient(app) as client:
            ingest(client, bearer(admin, settings), missed("M1", MORNING, caller="057188881234"))
            [callback] = waiting(client, bearer(operator, settings))["items"]
            url = f"/api/v1/callbacks/{callback['id']}/call"
            refused = client.post(url, headers=bearer(nobody, settings))
            assert refused.status_code == 400 and refused.json()["error"] == "no_extension"
            assert wait_until(lambda: app.state.telephony.ami.connected)
            r = client.post(url, headers=bearer(operator, settings))
            assert r.status_code == 200, r.text
            assert r.json()["via"] == "asterisk" and r.json()["callback"]["attempts"] == 1
    (action,) = server.originates
    fields = dict(action)
    assert (fields["Channel"], fields["Context"], fields["Exten"]) == (
        "PJSIP/1001",
        "from-internal",
        "057188881234",
    )
    assert fields["CallerID"] == "+8657188881234"


def test_one_callback_by_id_and_the_list_by_caller(client, admin, operator) -> None:
    ingest(client, admin, missed("M1", MORNING))
    ingest(client, admin, missed("M2", MORNING, caller="13912345678"))
    mine = waiting(client, operator, caller="139 1234 5678")["items"]
    assert [c["caller_national"] for c in mine] == ["139****5678"]
    one = client.get(f"/api/v1/callbacks/{mine[0]['id']}", headers=operator)
    assert one.status_code == 200 and one.json() == mine[0]
    assert client.get("/api/v1/callbacks/999999", headers=operator).status_code == 404


def test_the_worklist_changes_reach_the_call_centre_live(client, app, admin, operator) -> None:
    hub = app.state.ctx.live().hub
    start = hub.publish([], "mark", {}).id
    ingest(client, admin, missed("M1", MORNING))
    ingest(client, admin, missed("M2", MORNING + timedelta(minutes=1)))  # folds in
    [callback] = waiting(client, operator)["items"]
    client.post(f"/api/v1/callbacks/{callback['id']}/call", headers=operator)
    client.post(f"/api/v1/callbacks/{callback['id']}/close", json={"outcome": "answered"}, headers=operator)
    queue = hub.subscribe(1, "operator", last_event_id=start).queue
    seen = [m.data for m in (queue.get_nowait() for _ in range(queue.qsize())) if m.event == "callback"]
    assert [(d["status"], d["call_count"], d["attempts"]) for d in seen] == [
        ("open", 1, 0),
        ("open", 2, 0),
        ("open", 2, 1),
        ("closed", 2, 1),
    ]
    assert all("caller" not in d for d in seen)  # the screen reloads it; the stream carries no number
    provider = hub.subscribe(2, "worker", last_event_id=start, providers=frozenset({1})).queue
    assert all(m.event != "callback" for m in (provider.get_nowait() for _ in range(provider.qsize())))


@pytest.fixture
def recorder():
    """A web server with one voicemail on it, as a PBX's recordings server would be."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    audio = b"RIFF" + b"\0" * 40

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/rec/V1.wav":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "audio/wav")
            self.send_header("Content-Length", str(len(audio)))
            self.end_headers()
            self.wfile.write(audio)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", audio
    server.shutdown()
    server.server_close()


def test_the_voicemail_plays_through_the_server_from_allowed_hosts_only(
    client, app, admin, operator, recorder
) -> None:
    base, audio = recorder
    events = voicemail("V1", MORNING)
    events[1] = VoicemailRecorded(
        "V1", "simulator", f"{base}/rec/V1.wav", CALLER, MORNING + timedelta(seconds=50)
    )
    ingest(client, admin, events)
    [callback] = waiting(client, operator)["items"]
    url = f"/api/v1/callbacks/{callback['id']}/recording"
    refused = client.get(url, headers=operator)  # 127.0.0.1 is not an allowed host by default
    assert refused.status_code == 409 and refused.json()["error"] == "recording_host_not_allowed"
    app.state.ctx.settings.callcentre.recording_hosts = ["127.0.0.1"]
    played = client.get(url, headers=operator)
    assert played.status_code == 200 and played.headers["content-type"] == "audio/wav"
    assert played.content == audio
    ingest(client, admin, missed("M7", MORNING, caller="13912345678"))
    [no_voicemail] = waiting(client, operator, caller="13912345678")["items"]
    assert (
        client.get(f"/api/v1/callbacks/{no_voicemail['id']}/recording", headers=operator).status_code == 404
    )
