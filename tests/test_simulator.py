"""The telephony simulator: the scenario mix and its invariants, the live thread, the HTTP sink and
the ``sanshe simulate-calls`` command."""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from zoneinfo import ZoneInfo

import httpx
import phonenumbers
import pytest

from dispatch.calls.events import (
    CallAnswered,
    CallEnded,
    CallEvent,
    CallRinging,
    VoicemailRecorded,
    event_from_dict,
    event_to_dict,
)
from dispatch.clock import FrozenClock
from dispatch.residents.phones import try_normalise
from telephony.simulator import (
    NO_ANSWER_SECONDS,
    CallScenarios,
    CallSimulator,
    Floor,
    SimulatedCall,
)
from telephony.simulator_http import CallTally, HttpEventSink
from tests.support.cli import run as run_cli
from tests.support.waiting import wait_until

T0 = datetime(2025, 6, 2, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
RESIDENTS = [f"+8613900{i:06d}" for i in range(400)]
OPERATORS = [str(1001 + i) for i in range(20)]


def plan_calls(
    n: int,
    *,
    operators: list[str] = OPERATORS,
    per_minute: float = 1.0,
    seed: int = 7,
    start: datetime = T0,
    **kw,
) -> list[SimulatedCall]:
    scenarios = CallScenarios(callers=RESIDENTS, id_prefix="t", **kw)
    floor, rng, t = Floor.of(operators), random.Random(seed), start
    calls = []
    for _ in range(n):
        t += timedelta(seconds=rng.expovariate(per_minute / 60))
        calls.append(scenarios.plan(t, rng, floor))
    return calls


@pytest.fixture(scope="module")
def calls() -> list[SimulatedCall]:
    return plan_calls(2000, hours=None)


def seconds(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds()


# --- the scenario generator ----------------------------------------------------------------------


def test_mix_matches_the_configured_proportions(calls) -> None:
    shares = {k: v / len(calls) for k, v in Counter(c.disposition for c in calls).items()}
    assert shares["answered"] == pytest.approx(0.80, abs=0.03)
    assert shares["abandoned"] == pytest.approx(0.12, abs=0.03)
    assert shares["missed"] == pytest.approx(0.03, abs=0.015)
    assert shares["voicemail"] == pytest.approx(0.05, abs=0.015)


def test_proportions_are_parameters() -> None:
    calls = plan_calls(1000, hours=None, answered=0.5, abandoned=0.5, missed=0.0, voicemail=0.0)
    shares = Counter(c.disposition for c in calls)
    assert set(shares) == {"answered", "abandoned"}
    assert shares["answered"] / 1000 == pytest.approx(0.5, abs=0.05)
    with pytest.raises(ValueError, match="must be 1"):
        CallScenarios(answered=0.9)
    with pytest.raises(ValueError, match="known_callers"):
        CallScenarios(known_callers=0.95, repeat_callers=0.1)


def test_every_call_ends_once_and_last_with_consistent_durations(calls) -> None:
    for call in calls:
        offsets = [offset for offset, _ in call.timeline]
        events = [event for _, event in call.timeline]
        assert offsets == sorted(offsets) and offsets[0] == 0
        assert all(e.call_id == call.call_id and e.source == "simulator" for e in events)
        assert all(e.at == call.started_at + timedelta(seconds=o) for o, e in call.timeline)
        assert [type(e) for e in events].count(CallEnded) == 1
        end = events[-1]
        assert isinstance(end, CallEnded) and end.started_at == call.started_at
        assert isinstance(events[0], CallRinging) and events[0].operator_ext is None
        assert events[0].queue == "hotline" and events[0].callee == "12345"
        answers = [e for e in events if isinstance(e, CallAnswered)]
        if end.disposition == "answered":
            assert len(answers) == 1 and end.answered_at == answers[0].at
            assert end.operator_ext == answers[0].operator_ext
            ringing = [e for e in events if isinstance(e, CallRinging) and e.operator_ext]
            assert ringing[-1].operator_ext == end.operator_ext and 1 <= len(ringing) <= 2
            assert 3 <= seconds(ringing[-1].at, end.answered_at) <= 12
            assert end.hold_seconds == pytest.approx(seconds(end.started_at, end.answered_at), abs=0.5)
            assert end.talk_seconds == pytest.approx(seconds(end.answered_at, end.at), abs=0.5)
            assert 20 <= end.talk_seconds <= 1200
        else:
            assert not answers and end.answered_at is None and end.talk_seconds == 0
            assert end.hold_seconds <= round(seconds(end.started_at, end.at))
        if end.disposition == "abandoned":
            assert end.hold_seconds == pytest.approx(seconds(end.started_at, end.at), abs=0.5)
            assert 5 <= end.hold_seconds <= 120
        if end.disposition == "missed":
            assert end.hold_seconds == 120 and seconds(end.started_at, end.at) == 120
        voicemails = [e for e in events if isinstance(e, VoicemailRecorded)]
        assert len(voicemails) == (end.disposition == "voicemail")
        for vm in voicemails:
            assert re.fullmatch(r"https://\S+/sim-t-\d+\.wav", vm.recording_url)
            assert vm.caller == call.caller and vm.at <= end.at


def test_talk_and_wait_look_like_a_hotline(calls) -> None:
    answered = sorted(c.ended.talk_seconds for c in calls if c.disposition == "answered")
    median = answered[len(answered) // 2]
    assert 150 <= median <= 210  # ~3 min
    waits = [c.ended.hold_seconds for c in calls if c.disposition == "answered"]
    assert sum(w <= 40 for w in waits) / len(waits) > 0.75
    second_rung = [
        c
        for c in calls
        if sum(isinstance(e, CallRinging) and e.operator_ext is not None for _, e in c.timeline) == 2
    ]
    assert 0.08 < len(second_rung) / len(answered) < 0.22


def busy_intervals(calls: list[SimulatedCall]) -> dict[str, list[tuple[datetime, datetime]]]:
    """When each operator's phone rang or was in a call, read back from the events alone."""
    busy: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for call in calls:
        end = call.ended
        for _, e in call.timeline:
            if isinstance(e, CallRinging) and e.operator_ext:
                answered_here = end.disposition == "answered" and e.operator_ext == end.operator_ext
                until = end.at if answered_here else e.at + timedelta(seconds=NO_ANSWER_SECONDS)
                busy[e.operator_ext].append((e.at, until))
    return busy


@pytest.mark.parametrize("operators", [OPERATORS, ["1001", "1002", "1003"]])
def test_operators_are_never_double_booked(operators) -> None:
    calls = plan_calls(1500, operators=operators, per_minute=1.5, hours=None)
    busy = busy_intervals(calls)
    assert set(busy) <= set(operators)
    for slots in busy.values():
        slots.sort()
        for (_, end), (start, _) in zip(slots, slots[1:], strict=False):
            assert start >= end
    if len(operators) == 3:  # understaffed: callers give up rather than being double-booked
        unanswered = sum(c.disposition in ("abandoned", "missed") for c in calls) / len(calls)
        assert unanswered > 0.25


def test_no_operators_means_nobody_answers() -> None:
    calls = plan_calls(200, operators=[], hours=None)
    assert {c.disposition for c in calls} <= {"abandoned", "missed", "voicemail"}


def test_out_of_hours_calls_go_to_voicemail() -> None:
    calls = plan_calls(1500, per_minute=0.5, hours=(clock_time(8), clock_time(20)))  # ~2 days
    scenarios = CallScenarios()
    night = [c for c in calls if not scenarios.in_hours(c.started_at)]
    day = [c for c in calls if scenarios.in_hours(c.started_at)]
    assert len(night) > 300 and len(day) > 500
    for call in night:
        hour = call.started_at.astimezone(scenarios.tz).hour
        assert hour >= 20 or hour < 8
        assert call.disposition == "voicemail" and call.ended.hold_seconds == 0
        assert call.ended.queue is None
        assert not any(isinstance(e, CallRinging) and e.operator_ext for _, e in call.timeline)
    assert Counter(c.disposition for c in day)["answered"] / len(day) > 0.7


def test_callers_known_repeat_and_random(calls) -> None:
    known = sum(c.caller in RESIDENTS for c in calls) / len(calls)
    assert 0.68 <= known <= 0.86  # 70 % known plus repeats of known callers
    by_caller: dict[str, list[SimulatedCall]] = defaultdict(list)
    for call in calls:
        by_caller[call.caller].append(call)
    repeats = 0
    for call in calls:
        before = [c.ended.at for c in by_caller[call.caller] if c.ended.at <= call.started_at]
        repeats += bool(before) and seconds(max(before), call.started_at) <= 3600
    assert 0.08 <= repeats / len(calls) <= 0.25
    strangers = [c.caller for c in calls if c.caller not in RESIDENTS]
    assert strangers and all(re.fullmatch(r"\+861[3-9]\d{9}", n) for n in strangers)
    assert all(phonenumbers.is_valid_number(phonenumbers.parse(n)) for n in strangers[:200])


def test_same_seed_same_calls() -> None:
    def timelines(seed: int) -> list[object]:
        return [c.timeline for c in plan_calls(300, seed=seed)]

    assert timelines(3) == timelines(3)
    assert timelines(3) != timelines(4)


def test_events_survive_the_json_form(calls) -> None:
    for call in calls[:300]:
        for _, event in call.timeline:
            assert event_from_dict(json.loads(json.dumps(event_to_dict(event)))) == event


# --- the live simulator --------------------------------------------------------------------------


def call_ids_ended(events: list[CallEvent]) -> list[str]:
    return [e.call_id for e in events if isinstance(e, CallEnded)]


def test_step_with_a_fake_clock_emits_in_time_order() -> None:
    clock = FrozenClock(T0)
    events: list[CallEvent] = []
    sim = CallSimulator(events.append, operators=OPERATORS, calls_per_minute=2, seed=1, clock=clock.now)
    assert sim.step(T0) == []
    for minute in range(1, 121):
        sim.step(T0 + timedelta(minutes=minute))
    assert 180 <= sim.calls_started <= 300
    times = [e.at for e in events]
    assert times == sorted(times) and times[-1] <= T0 + timedelta(hours=2)
    assert len(set(call_ids_ended(events))) == len(call_ids_ended(events))
    assert sim.calls_in_progress == sim.calls_started - len(call_ids_ended(events))
    assert sim.next_due() is not None and sim.next_due() > T0 + timedelta(hours=2)


def test_finish_lets_calls_in_progress_end_and_starts_no_more() -> None:
    clock = FrozenClock(T0)
    events: list[CallEvent] = []
    sim = CallSimulator(events.append, operators=OPERATORS, calls_per_minute=3, seed=2, clock=clock.now)
    sim.run_for(1800)
    started = sim.calls_started
    assert sim.calls_in_progress > 0
    sim.drain()
    assert sim.wait_until_idle(0) is False
    sim.run_for(3600)
    assert sim.calls_started == started
    assert sim.calls_in_progress == 0 and sim.wait_until_idle(0)
    assert sorted(call_ids_ended(events)) == sorted({e.call_id for e in events})


def test_thread_emits_in_compressed_time_and_stops_promptly() -> None:
    events: list[CallEvent] = []
    lock = threading.Lock()

    def sink(event: CallEvent) -> None:
        with lock:
            events.append(event)

    sim = CallSimulator(sink, operators=OPERATORS, calls_per_minute=2, seed=5, speed=600)
    wall_start = datetime.now(UTC)
    sim.start()

    def ran_ahead() -> bool:  # simulated time ran more than a minute ahead of the wall clock
        with lock:
            return bool(events) and events[-1].at - wall_start > timedelta(seconds=60)

    assert wait_until(ran_ahead), "no events a simulated minute ahead at 2 calls/min"
    began = time.monotonic()
    assert sim.stop()
    assert time.monotonic() - began < 5  # not waiting for the next simulated call
    with lock:
        assert events, "no events in 5 simulated minutes at 2 calls/min"
        times = [e.at for e in events]
    assert times == sorted(times)
    assert times[-1] - wall_start > timedelta(seconds=60)  # simulated time ran ahead of the wall clock
    count = len(events)
    assert sim._thread is None or not sim._thread.is_alive()
    assert len(events) == count  # stopped means stopped: its thread is gone


def test_stop_is_immediate_while_waiting_for_the_next_call() -> None:
    sim = CallSimulator(lambda e: None, operators=OPERATORS, calls_per_minute=0.001)  # next call: hours away
    sim.start()
    began = time.monotonic()
    assert sim.stop()
    assert time.monotonic() - began < 5


def test_a_raising_sink_does_not_stop_the_simulator(caplog) -> None:
    seen: list[CallEvent] = []

    def flaky(event: CallEvent) -> None:
        seen.append(event)
        if len(seen) % 2:
            raise RuntimeError("sink down")

    sim = CallSimulator(flaky, operators=OPERATORS, calls_per_minute=6, seed=9, speed=600)
    sim.start()
    deadline = time.monotonic() + 5
    while len(seen) < 20 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sim._thread is not None and sim._thread.is_alive()
    assert sim.stop()
    assert len(seen) >= 20
    assert "sink failed" in caplog.text


def test_speed_can_change_without_a_jump_in_time() -> None:
    clock = FrozenClock(T0)
    sim = CallSimulator(lambda e: None, operators=OPERATORS, calls_per_minute=1, clock=clock.now)
    clock.advance(seconds=10)
    assert sim.now() == T0 + timedelta(seconds=10)
    sim.speed = 30
    assert sim.now() == T0 + timedelta(seconds=10)
    clock.advance(seconds=2)
    assert sim.now() == T0 + timedelta(seconds=70)
    with pytest.raises(ValueError):
        sim.speed = 0


# --- posting to the server -----------------------------------------------------------------------


class FakeServer:
    """An httpx transport standing in for ``POST /api/v1/telephony/events``."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)  # replies to the first requests, then 202
        self.bodies: list[dict] = []
        self.auth: set[str] = set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/health":
            return httpx.Response(200, json={"status": "ok"})
        assert request.method == "POST" and request.url.path == "/api/v1/telephony/events"
        self.auth.add(request.headers.get("authorization", ""))
        status = self.statuses.pop(0) if self.statuses else 202
        if status >= 400:
            return httpx.Response(status, json={"error": f"e{status}", "detail": f"status {status}"})
        self.bodies.append(json.loads(request.content))
        return httpx.Response(status, json={"accepted": True})

    def client(self) -> httpx.Client:
        return httpx.Client(base_url="http://sanshe.test", transport=httpx.MockTransport(self))


def sample_events(n_calls: int = 5) -> list[CallEvent]:
    return [e for call in plan_calls(n_calls, hours=None) for _, e in call.timeline]


def test_http_sink_posts_every_event_and_reports_ended_calls() -> None:
    server, ended, messages = FakeServer(), [], []
    sink = HttpEventSink(server.client(), report=messages.append, on_ended=ended.append)
    events = sample_events()
    for event in events:
        sink(event)
    assert [event_from_dict(b) for b in server.bodies] == events
    assert sink.posted == len(events) and sink.failed == 0 and not messages
    assert [e.call_id for e in ended] == call_ids_ended(events)


def test_http_sink_keeps_going_after_transient_errors() -> None:
    server, messages = FakeServer(500, 503, 422), []
    sink = HttpEventSink(server.client(), report=messages.append)
    events = sample_events()
    for event in events:
        sink(event)
    assert sink.failed == 3 and sink.posted == len(events) - 3 and not sink.fatal.is_set()
    assert "500: e500: status 500" in messages[0]


def test_http_sink_stops_on_401_403_and_unreachable_server() -> None:
    for status in (401, 403):
        server, messages = FakeServer(status), []
        sink = HttpEventSink(server.client(), report=messages.append)
        for event in sample_events(2):
            sink(event)
        assert sink.fatal.is_set() and sink.failed == 1 and sink.posted == 0
        assert f"{status}: e{status}" in sink.fatal_reason

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = httpx.Client(base_url="http://sanshe.test", transport=httpx.MockTransport(refuse))
    sink = HttpEventSink(client, report=lambda m: None, give_up_after=3)
    for event in sample_events(2)[:5]:
        sink(event)
    assert sink.failed == 3 and sink.fatal.is_set() and "3 failures in a row" in sink.fatal_reason


def test_tally_lines_mask_the_caller_and_sum_up() -> None:
    tally = CallTally("Asia/Shanghai")
    ended = [c.ended for c in plan_calls(50, hours=None)]
    lines = [tally.add(e) for e in ended]
    first = ended[0]
    assert first.caller not in lines[0] and first.caller[-4:] in lines[0] and "****" in lines[0]
    assert first.disposition in lines[0]
    summary = tally.summary()
    assert summary.startswith("50 calls: answered ") and "abandoned" in summary and "mean talk" in summary


# --- the command ---------------------------------------------------------------------------------


@pytest.fixture
def cli_db(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("SANSHE_CONFIG", raising=False)
    monkeypatch.setenv("SANSHE_DATABASE_URL", sqlite_url)
    return sqlite_url


def add_users(url: str, *roles_and_extensions: tuple[str, str | None]) -> list[int]:
    from dispatch.db import make_engine, make_sessionmaker
    from models import Role
    from tests.factories import make_user

    engine = make_engine(url)
    with make_sessionmaker(engine)() as s:
        ids = [make_user(s, role=Role(role), extension=ext).id for role, ext in roles_and_extensions]
        s.commit()
    engine.dispose()
    return ids


def test_cli_needs_an_admin(cli_db, capsys) -> None:
    add_users(cli_db, ("operator", "1001"))
    code, _, err = run_cli(capsys, "simulate-calls", "--rate", "1")
    assert code == 2 and "no active admin user" in err


def test_cli_names_an_unreachable_server(cli_db, capsys) -> None:
    add_users(cli_db, ("admin", None), ("operator", "1001"))
    code, _, err = run_cli(capsys, "simulate-calls", "--rate", "1", "--url", "http://127.0.0.1:9")
    assert code == 2 and "http://127.0.0.1:9 is not reachable" in err


def patch_client(monkeypatch: pytest.MonkeyPatch, server: FakeServer) -> None:
    from telephony import simulator_http

    def client(base_url: str, token: str, *, timeout: float = 10.0) -> httpx.Client:
        return httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            transport=httpx.MockTransport(server),
            timeout=timeout,
        )

    monkeypatch.setattr(simulator_http, "http_client", client)


def test_cli_posts_calls_as_the_admin_and_prints_a_summary(cli_db, capsys, monkeypatch) -> None:
    from dispatch.auth.security import read_token
    from dispatch.settings import AuthSettings

    admin_id, *_ = add_users(cli_db, ("admin", None), ("operator", "1001"), ("operator", "1002"))
    server = FakeServer()
    patch_client(monkeypatch, server)
    argv = ("simulate-calls", "--rate", "2", "--speed", "2000", "--duration", "0.4", "--seed", "1")
    code, out, err = run_cli(capsys, *argv)
    assert code == 0, err
    events = [event_from_dict(b) for b in server.bodies]
    ended = [e for e in events if isinstance(e, CallEnded)]
    assert ended and len(ended) == len({e.call_id for e in events})  # every started call ended
    assert {e.operator_ext for e in events if isinstance(e, CallAnswered)} <= {"1001", "1002"}
    (auth,) = server.auth
    claims = read_token(auth.removeprefix("Bearer "), secret=AuthSettings().jwt_secret)
    assert claims is not None and claims.user_id == admin_id
    lines = out.splitlines()
    assert lines[0].startswith(
        "simulating 2 calls/min at 2000x to http://127.0.0.1:8000/api/v1/telephony/events"
    )
    assert sum("****" in line for line in lines) == len(ended)
    assert re.search(rf"^{len(ended)} calls: answered .*events posted {len(events)}, failed 0$", out, re.M)


def test_cli_stops_when_the_server_refuses_the_token(cli_db, capsys, monkeypatch) -> None:
    add_users(cli_db, ("admin", None), ("operator", "1001"))
    patch_client(monkeypatch, FakeServer(403))
    code, _, err = run_cli(capsys, "simulate-calls", "--rate", "30", "--speed", "1000", "--duration", "5")
    assert code == 1 and "stopped: POST /api/v1/telephony/events -> 403: e403" in err


# --- end to end: the real ingest endpoint --------------------------------------------------------


def test_simulated_calls_through_the_real_endpoint(app, client, login) -> None:
    if "/api/v1/telephony/events" not in app.openapi()["paths"]:
        pytest.skip("POST /api/v1/telephony/events is not served yet")
    from models import Role

    client.headers.update(login(Role.ADMIN))
    calls = plan_calls(12, hours=None, start=datetime.now(UTC) - timedelta(hours=2))
    sink = HttpEventSink(client, report=pytest.fail)
    events = sorted((e for c in calls for _, e in c.timeline), key=lambda e: e.at)
    for event in events:
        sink(event)
    app.state.ctx.live().ingest.drain()
    listed = client.get("/api/v1/calls", params={"limit": 50}).json()
    by_id = {item["external_id"]: item for item in listed["items"]}
    assert listed["total"] == len(calls) and set(by_id) == {c.call_id for c in calls}
    for call in calls:
        item, end = by_id[call.call_id], call.ended
        assert item["disposition"] == end.disposition
        assert (item["hold_seconds"], item["talk_seconds"]) == (end.hold_seconds, end.talk_seconds)
        if end.disposition == "answered":
            assert item["operator"] == end.operator_ext and item["answered_at"] is not None


def test_a_night_of_simulated_calls_lands_in_the_callback_worklist(app, client, login) -> None:
    from models import Role

    client.headers.update(login(Role.ADMIN))
    # Overnight in Hangzhou (operators in 08:00–20:00): every call goes to voicemail.
    night = datetime(2026, 11, 17, 23, 0, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)
    calls = plan_calls(25, start=night)
    returned = [c for c in calls if c.ended.disposition in ("missed", "abandoned", "voicemail")]
    assert {c.ended.disposition for c in calls} == {"voicemail"}
    sink = HttpEventSink(client, report=pytest.fail)
    for event in sorted((e for c in calls for _, e in c.timeline), key=lambda e: e.at):
        sink(event)
    app.state.ctx.live().ingest.drain()
    waiting = client.get("/api/v1/callbacks", params={"limit": 100}).json()
    callers = {try_normalise(c.ended.caller, "CN") for c in returned} - {None}
    assert waiting["total"] == len(callers) > 0  # one per number: repeat callers fold in
    assert sum(item["call_count"] for item in waiting["items"]) == len(returned)
    assert all(item["reason"] == "voicemail" and item["recording_url"] for item in waiting["items"])
