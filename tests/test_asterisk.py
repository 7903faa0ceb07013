"""AMI adapter and mapping, over real sockets against tests/support/ami_server.py, replaying the
transcripts in ../shared/fixtures/ami (a sibling of the repository)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dispatch.calls.events import CallAnswered, CallEnded, CallEvent, CallRinging
from telephony.ami_mapping import AmiCallTracker
from telephony.asterisk import AmiAdapter
from telephony.fake_ami import AmiServer, Headers, Transcript, build_packet
from tests.support.waiting import wait_until

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "ami"
pytestmark = pytest.mark.timeout(90)
# Stopping must not wait out a backoff, a heartbeat or a read: far below those, far above a loaded
# machine's scheduling delays.
STOP_PROMPTLY = 5.0


def _transcript(name: str) -> Transcript:
    path = FIXTURES / name
    if not path.exists():
        pytest.skip(f"AMI transcript {path} not found (expected ../shared next to the repository)")
    return Transcript.load(path)


@pytest.fixture
def answered() -> Transcript:
    return _transcript("inbound_answered.txt")


@pytest.fixture
def abandoned() -> Transcript:
    return _transcript("inbound_abandoned.txt")


def header(transcript: Transcript, event: str, key: str) -> str:
    return next(dict(h)[key] for h in transcript.headers() if dict(h)["Event"] == event)


def index_of(transcript: Transcript, event: str) -> int:
    return next(i for i, h in enumerate(transcript.headers()) if dict(h)["Event"] == event)


def ended(events: list[CallEvent]) -> list[CallEnded]:
    return [e for e in events if isinstance(e, CallEnded)]


@contextmanager
def running(server: AmiServer, *, secret: str = "s3cret", sink=None, **options) -> Iterator[tuple]:
    events: list[CallEvent] = []
    options = {
        "ping_interval": 5.0,
        "ping_timeout": 1.0,
        "backoff_initial": 0.1,
        "backoff_max": 0.5,
    } | options
    adapter = AmiAdapter(server.host, server.port, "callcenter", secret, sink or events.append, **options)
    adapter.start()
    try:
        yield adapter, events
    finally:
        adapter.stop()


def replay(transcript: Transcript, calls: int = 1, **server_options) -> tuple[list[CallEvent], AmiServer]:
    with AmiServer(transcript, **server_options) as server, running(server) as (_, events):
        assert wait_until(lambda: len(ended(events)) >= calls and server.replay_done.is_set()), events
        time.sleep(0.3)  # anything arriving now would be a duplicate
        return list(events), server


# --- the two recorded calls -----------------------------------------------------------------------


def test_answered_call(answered: Transcript) -> None:
    events, _ = replay(answered)
    call_id = header(answered, "Newchannel", "Linkedid")
    assert [type(e) for e in events] == [CallRinging, CallRinging, CallAnswered, CallEnded]
    assert all(e.call_id == call_id for e in events)
    queued, ringing = events[0], events[1]
    assert isinstance(queued, CallRinging) and queued.operator_ext is None and queued.queue == "hotline"
    assert isinstance(ringing, CallRinging) and ringing.operator_ext == "1001"
    assert ringing.caller == "+8613800138000" and ringing.callee == "4008001234"
    assert events[2] == CallAnswered(
        call_id, "asterisk", "1001", datetime.fromtimestamp(1718000006.201402, UTC)
    )
    (end,) = ended(events)
    assert end.disposition == "answered" and end.talk_seconds == 95
    assert end.hold_seconds == int(header(answered, "AgentConnect", "HoldTime"))
    assert (end.operator_ext, end.queue, end.caller) == ("1001", "hotline", "+8613800138000")
    assert end.started_at == datetime.fromtimestamp(1718000000.000101, UTC)
    assert end.at == datetime.fromtimestamp(1718000101.220311, UTC)


def test_abandoned_call(abandoned: Transcript) -> None:
    events, _ = replay(abandoned)
    (end,) = ended(events)
    assert end.disposition == "abandoned" and end.talk_seconds == 0 and end.operator_ext is None
    assert end.hold_seconds == int(header(abandoned, "QueueCallerAbandon", "HoldTime"))
    assert [e.operator_ext for e in events if isinstance(e, CallRinging)] == [None]


def queue_exit_variant(
    transcript: Transcript, *, hangup_request: bool, hold: str, queuestatus: bool = False, then_app: str = ""
) -> list[Headers]:
    """The abandoned call rewritten: optionally without the caller's HangupRequest, with another
    HoldTime, with QUEUESTATUS set and/or the dialplan continuing after Queue()."""
    out: list[Headers] = []
    for pairs in transcript.headers():
        name = dict(pairs)["Event"]
        if name == "HangupRequest" and not hangup_request:
            continue
        if name == "QueueCallerAbandon":
            pairs = [(k, hold if k == "HoldTime" else v) for k, v in pairs]
        out.append(pairs)
        if name == "QueueCallerLeave":
            channel = [kv for kv in pairs[1:] if kv[0] not in ("Queue", "Position", "Count")]
            if queuestatus:
                out.append([("Event", "VarSet"), *channel, ("Variable", "QUEUESTATUS"), ("Value", "TIMEOUT")])
            if then_app:
                channel = [(k, "5" if k == "Priority" else v) for k, v in channel]
                out.append([("Event", "Newexten"), *channel, ("Application", then_app), ("AppData", "")])
    return out


def test_queue_timeout_is_missed_over_socket(abandoned: Transcript) -> None:
    variant = queue_exit_variant(
        abandoned, hangup_request=False, hold="120", queuestatus=True, then_app="Hangup"
    )
    events, _ = replay(Transcript(abandoned.banner, [build_packet(p) for p in variant]))
    (end,) = ended(events)
    assert end.disposition == "missed" and end.hold_seconds == 120


@pytest.mark.parametrize(
    ("hangup_request", "hold", "queuestatus", "then_app", "expected"),
    [
        (True, "23", False, "", "abandoned"),  # the transcript as recorded
        (True, "120", False, "", "abandoned"),  # caller hung up just at the timeout: still abandoned
        (False, "120", False, "", "missed"),  # HoldTime reached Queue()'s timeout argument
        (False, "23", False, "", "abandoned"),  # no sign the caller was still there
        (False, "23", True, "", "missed"),  # QUEUESTATUS is only set when Queue() returns
        (False, "23", False, "Playback", "missed"),  # dialplan went on after the queue
        (False, "120", True, "VoiceMail", "voicemail"),
    ],
)
def test_abandon_or_timeout_rule(
    abandoned: Transcript, hangup_request: bool, hold: str, queuestatus: bool, then_app: str, expected: str
) -> None:
    tracker = AmiCallTracker()
    variant = queue_exit_variant(
        abandoned, hangup_request=hangup_request, hold=hold, queuestatus=queuestatus, then_app=then_app
    )
    out = [e for pairs in variant for e in tracker.feed(dict(pairs))]
    (end,) = ended(out)
    assert end.disposition == expected and end.hold_seconds == int(hold)


# --- delivery faults ------------------------------------------------------------------------------


def test_chunked_and_garbage_deliveries_give_the_same_events(
    answered: Transcript, abandoned: Transcript
) -> None:
    both = Transcript(answered.banner, answered.events + abandoned.events)
    baseline, _ = replay(both, calls=2)
    assert [e.disposition for e in ended(baseline)] == ["answered", "abandoned"]
    assert replay(both, calls=2, chunked=True)[0] == baseline
    assert replay(both, calls=2, garbage=True, chunked=True)[0] == baseline


@pytest.mark.parametrize("resume", ["continue", "restart"])
def test_connection_dropped_mid_call_is_not_double_counted(
    answered: Transcript, abandoned: Transcript, resume: str
) -> None:
    both = Transcript(answered.banner, answered.events + abandoned.events)
    baseline, _ = replay(both, calls=2)
    mid_call = index_of(answered, "AgentConnect") + 2
    events, server = replay(both, calls=2, drop_after=mid_call, resume=resume)
    assert server.connections == 2
    assert events == baseline  # same ringing/answered/ended, none twice


def test_call_that_ended_while_disconnected_is_ended_by_resync(answered: Transcript) -> None:
    mid_call = index_of(answered, "AgentConnect") + 1
    # The rest of the call happens during the outage, so its events are never sent (AMI does not
    # buffer for absent sessions), and after the reconnect the PBX reports no channels.
    during_outage = Transcript(answered.banner, answered.events[:mid_call] + answered.events[:1])
    events, server = replay(during_outage, drop_after=mid_call, channels=[])
    assert server.connections == 2
    (end,) = ended(events)
    assert end.disposition == "answered" and end.operator_ext == "1001" and end.hold_seconds == 6
    assert end.at.year >= 2025  # ended by the resync (now), not by the Hangup replayed afterwards
    assert len([e for e in events if isinstance(e, CallAnswered)]) == 1


# --- connection management ------------------------------------------------------------------------


def test_quiet_line_longer_than_3s_keeps_the_session(answered: Transcript) -> None:
    before_hangup = index_of(answered, "HangupRequest")
    with (
        AmiServer(answered, pause=(before_hangup, 3.5)) as server,
        running(server, ping_interval=30.0) as (adapter, events),
    ):
        assert wait_until(lambda: len(events) == 3)
        assert wait_until(lambda: len(ended(events)) == 1, timeout=5.0)
        assert adapter.connected and server.connections == 1 and server.pings == 0


def test_heartbeat_detects_a_silent_peer_and_reconnects(answered: Transcript, caplog) -> None:
    caplog.set_level(logging.INFO, logger="telephony")
    with (
        AmiServer(answered, answer_pings=False) as server,
        running(server, ping_interval=0.2, ping_timeout=0.3) as (_, events),
    ):
        assert wait_until(lambda: server.connections >= 2)
        assert "no reply to Ping" in caplog.text
        assert wait_until(lambda: len(ended(events)) == 1)
        assert len(ended(events)) == 1  # sessions after the first add nothing


def test_sink_that_raises_does_not_stop_the_adapter(answered: Transcript, caplog) -> None:
    received: list[CallEvent] = []

    def sink(event: CallEvent) -> None:
        if isinstance(event, CallRinging):
            raise RuntimeError("consumer bug")
        received.append(event)

    with AmiServer(answered) as server, running(server, sink=sink) as (adapter, _):
        assert wait_until(lambda: len(ended(received)) == 1)
        assert [type(e) for e in received] == [CallAnswered, CallEnded]
        assert adapter.connected and server.connections == 1
    assert "sink raised" in caplog.text


def test_bad_secret_is_reported_and_retried(answered: Transcript, caplog) -> None:
    caplog.set_level(logging.INFO, logger="telephony")
    with AmiServer(answered) as server, running(server, secret="wrong") as (adapter, events):
        assert wait_until(lambda: len(server.login_attempts) >= 2)
        assert not adapter.connected and events == []
        assert "rejected: Authentication failed" in caplog.text and "'callcenter'" in caplog.text
        assert adapter.last_error == "login rejected: Authentication failed"
        server.secret = "wrong"  # manager.conf now matches our secret: the next retry gets in
        assert wait_until(lambda: adapter.connected and len(ended(events)) == 1)


def test_originate_sends_the_action(answered: Transcript) -> None:
    with AmiServer(Transcript(answered.banner, [])) as server, running(server) as (adapter, _):
        assert wait_until(lambda: adapter.connected)
        ok = adapter.originate(
            "SIP/carrier/13800138000", "4008001234", "callback", "Hotline <4008001234>", {"ORDER_ID": "A-17"}
        )
        assert ok
        (action,) = server.originates
        fields = dict(action)
        assert fields["Channel"] == "SIP/carrier/13800138000" and fields["Exten"] == "4008001234"
        assert fields["Context"] == "callback" and fields["Priority"] == "1"
        assert fields["CallerID"] == "Hotline <4008001234>" and fields["Async"] == "true"
        assert fields["Timeout"] == "30000" and ("Variable", "ORDER_ID=A-17") in action
        with pytest.raises(ValueError):
            adapter.originate("SIP/x\r\nAction: Command", "1", "c", "x")


def test_stop_is_prompt_connected_and_while_backing_off(answered: Transcript) -> None:
    with AmiServer(answered) as server:
        adapter = AmiAdapter(server.host, server.port, "callcenter", "s3cret", lambda e: None)
        adapter.start()
        assert wait_until(lambda: adapter.connected)
        started = time.monotonic()
        adapter.stop()
        assert time.monotonic() - started < STOP_PROMPTLY and not adapter.connected
        port = server.port
    # Reconnecting to a closed port with a minute's backoff: stopping must not wait it out.
    dead = AmiAdapter(
        "127.0.0.1", port, "callcenter", "s3cret", lambda e: None, backoff_initial=60.0, backoff_max=60.0
    )
    dead.start()
    assert wait_until(lambda: bool(dead.last_error))  # refused once, now waiting to retry
    started = time.monotonic()
    dead.stop()
    assert time.monotonic() - started < STOP_PROMPTLY
    assert not dead.originate("SIP/1001", "1", "c", "x")
    assert not [t for t in threading.enumerate() if t.name.startswith("ami-") and "server" not in t.name]


# --- the mapper alone -----------------------------------------------------------------------------


def feed_all(tracker: AmiCallTracker, headers: list[Headers]) -> list[CallEvent]:
    return [e for pairs in headers for e in tracker.feed(dict(pairs))]


def test_replayed_events_end_a_call_exactly_once(answered: Transcript) -> None:
    tracker = AmiCallTracker()
    first = feed_all(tracker, answered.headers())
    assert feed_all(tracker, answered.headers()) == [] and len(ended(first)) == 1


def test_cdr_fills_talk_time_when_agentcomplete_is_missing(answered: Transcript) -> None:
    headers = [h for h in answered.headers() if dict(h)["Event"] != "AgentComplete"]
    hangup = index_of(answered, "Hangup") + 1  # the caller's Hangup is the second one
    tracker = AmiCallTracker()
    assert ended(feed_all(tracker, headers[:hangup])) == []  # waits for the Cdr
    (end,) = ended(feed_all(tracker, headers[hangup:]))
    assert end.talk_seconds == 95 and end.disposition == "answered"


def test_without_cdr_the_grace_period_releases_the_call(answered: Transcript) -> None:
    headers = [h for h in answered.headers() if dict(h)["Event"] not in ("AgentComplete", "Cdr")]
    tracker = AmiCallTracker(cdr_grace_s=2.0)
    assert ended(feed_all(tracker, headers)) == [] and tracker.tick() == []
    (end,) = ended(tracker.tick(datetime.now(UTC) + timedelta(seconds=3)))
    assert end.talk_seconds == 95  # hangup - answer


def test_resync_adopts_live_calls_and_ends_vanished_ones(answered: Transcript) -> None:
    tracker = AmiCallTracker()
    feed_all(tracker, answered.headers()[: index_of(answered, "AgentConnect") + 1])
    tracker.begin_resync("r1")
    live = {"Event": "CoreShowChannel", "ActionID": "r1", "Uniqueid": "9.1", "Linkedid": "9.1"}
    assert tracker.feed(live | {"CallerIDNum": "+8613900000000", "Duration": "00:01:00"}) == []
    (end,) = tracker.feed({"Event": "CoreShowChannelsComplete", "ActionID": "r1"})
    assert end.call_id == "1718000000.18" and end.disposition == "answered"
    assert tracker.open_calls == {"9.1"}
    (adopted,) = tracker.feed({"Event": "Hangup", "Uniqueid": "9.1", "Linkedid": "9.1"})
    assert adopted.caller == "+8613900000000" and adopted.started_at is not None


def test_a_call_silent_for_hours_is_ended_by_tick() -> None:
    tracker = AmiCallTracker(stale_after_s=3600)
    tracker.feed({"Event": "Newchannel", "Uniqueid": "7.1", "Linkedid": "7.1", "CallerIDNum": "110"})
    assert tracker.tick(datetime.now(UTC) + timedelta(minutes=59)) == []
    (end,) = tracker.tick(datetime.now(UTC) + timedelta(minutes=61))
    assert end.call_id == "7.1" and end.disposition == "missed" and not tracker.open_calls


def test_malformed_and_unknown_events_are_ignored(caplog) -> None:
    tracker = AmiCallTracker()
    for event in (
        {},
        {"Event": "Bogus!", "Linkedid": "1"},
        {"Event": "SomethingNew", "Linkedid": "1"},
        {"Event": "AgentConnect", "Linkedid": "1", "Uniqueid": "1", "HoldTime": "soon"},
        {"Event": "QueueCallerJoin", "Uniqueid": "2"},
        {"Event": "VarSet", "Variable": "GLOBAL", "Value": "x"},
        {"Event": "Hangup", "Uniqueid": "3", "Linkedid": "3", "Timestamp": "not-a-time"},
        {"Event": "Cdr", "UniqueID": "4", "Duration": "-1"},
    ):
        assert tracker.feed(event) == []
    assert "malformed AMI AgentConnect" in caplog.text
