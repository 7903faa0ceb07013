"""The outbox on both databases: sent once, retried with backoff, failed for good and kept, never
sent twice (concurrent senders, a crash mid-send), never sent before the enqueuing commit."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from dispatch.clock import FrozenClock
from dispatch.context import AppContext
from dispatch.outbox import messages
from dispatch.outbox.adapters import RecordingCalls, RecordingConnector, RecordingNotifier, RecordingSms
from dispatch.outbox.sender import CLAIM_PREFIX, DEFAULT_CLAIM_TIMEOUT, SendReport, retry_delay, send_due
from dispatch.ports import Adapters, Recipient
from dispatch.tracking.scheduler import Job, TrackingLoop, send_outbox
from models import OutboxChannel, OutboxMessage, OutboxStatus

T0 = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
WORKER = "+8613800000001"
RESIDENT = "+8613900000002"


def fakes(**kw: Any) -> Adapters:
    return Adapters(
        sms=kw.get("sms") or RecordingSms(),
        calls=kw.get("calls") or RecordingCalls(),
        notifier=kw.get("notifier") or RecordingNotifier(),
        connector=RecordingConnector(),
    )


def send(factory: sessionmaker[Session], at: datetime, adapters: Adapters, **kw: Any) -> SendReport:
    with factory() as session:
        return send_due(session, now=at, adapters=adapters, **kw)


def added(session: Session, message: OutboxMessage) -> OutboxMessage | None:
    """The message once added, None when its dedupe key was used before."""
    return message if messages.add(session, message) else None


def sms(session: Session, to: str, body: str, now: datetime, **kw: Any) -> OutboxMessage | None:
    return added(session, messages.sms(to, body, kind="test", now=now, **kw))


def sms_committed(factory: sessionmaker[Session], *, to: str = WORKER, body: str = "新工单", now=T0) -> int:
    with factory() as session:
        message = sms(session, to, body, now)
        session.commit()
        return message.id


def row(factory: sessionmaker[Session], message_id: int) -> OutboxMessage:
    with factory() as session:
        return session.get_one(OutboxMessage, message_id)


def count(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(OutboxMessage))


def test_each_channel_is_sent_once(session_factory) -> None:
    with session_factory() as s:
        text = sms(s, WORKER, "您有新工单，回复1接单", T0)
        call = added(
            s,
            messages.build(
                channel=OutboxChannel.CALL,
                recipient=RESIDENT,
                payload={"kind": "rating", "order_id": 7},
                now=T0,
            ),
        )
        note = added(
            s,
            messages.build(
                channel=OutboxChannel.NOTIFY,
                recipient=Recipient.role("supervisor"),
                body="工单超时",
                payload={"order_id": 7},
                now=T0,
            ),
        )
        s.commit()
    adapters = fakes()
    assert send(session_factory, T0, adapters) == SendReport(sent=3)

    [sms_out] = adapters.sms.delivered
    assert (sms_out.recipient, sms_out.body) == (WORKER, "您有新工单，回复1接单")
    [call_out] = adapters.calls.delivered
    assert call_out.payload == {"kind": "rating", "order_id": 7, "outbox_id": call.id}
    [note_out] = adapters.notifier.delivered
    assert (note_out.recipient, note_out.payload["outbox_id"]) == ("role:supervisor", note.id)

    for message, delivered in ((text, sms_out), (call, call_out), (note, note_out)):
        stored = row(session_factory, message.id)
        assert stored.status == OutboxStatus.SENT
        assert stored.sent_at == T0
        assert stored.external_id == delivered.id
        assert stored.attempts == 1

    assert send(session_factory, T0 + timedelta(hours=1), adapters) == SendReport()
    assert adapters.sms.attempts == adapters.calls.attempts == adapters.notifier.attempts == 1


def test_oldest_first_within_the_batch_and_nothing_early(session_factory) -> None:
    for i in (3, 1, 2):
        sms_committed(session_factory, body=f"m{i}", now=T0 + timedelta(seconds=i))
    later = sms_committed(session_factory, body="later", now=T0 + timedelta(hours=1))
    adapters = fakes()
    assert send(session_factory, T0 + timedelta(minutes=1), adapters, batch=2).sent == 2
    assert send(session_factory, T0 + timedelta(minutes=1), adapters).sent == 1
    assert [d.body for d in adapters.sms.delivered] == ["m1", "m2", "m3"]
    assert row(session_factory, later).status == OutboxStatus.PENDING


def test_a_temporary_failure_is_retried_after_the_backoff(session_factory) -> None:
    message_id = sms_committed(session_factory)
    adapters = fakes()
    adapters.sms.fail_next(1, message="HTTP 503 from provider")

    assert send(session_factory, T0, adapters) == SendReport(retried=1)
    stored = row(session_factory, message_id)
    assert stored.status == OutboxStatus.PENDING
    assert stored.attempts == 1
    assert "HTTP 503 from provider" in stored.last_error
    assert stored.external_id == ""
    assert stored.next_attempt_at == T0 + retry_delay(1, message_id)
    assert timedelta(seconds=24) <= stored.next_attempt_at - T0 <= timedelta(seconds=30)

    assert send(session_factory, stored.next_attempt_at - timedelta(seconds=1), adapters) == SendReport()
    assert send(session_factory, stored.next_attempt_at, adapters) == SendReport(sent=1)
    stored = row(session_factory, message_id)
    assert stored.status == OutboxStatus.SENT and stored.attempts == 2
    assert [d.recipient for d in adapters.sms.delivered] == [WORKER]


def test_a_permanent_failure_fails_at_once_and_keeps_the_error(session_factory) -> None:
    message_id = sms_committed(session_factory)
    adapters = fakes()
    adapters.sms.fail_next(1, permanent=True, message="invalid 'To' phone number")

    assert send(session_factory, T0, adapters) == SendReport(failed=1)
    stored = row(session_factory, message_id)
    assert stored.status == OutboxStatus.FAILED
    assert "invalid 'To' phone number" in stored.last_error
    assert stored.sent_at is None
    assert send(session_factory, T0 + timedelta(days=1), adapters) == SendReport()
    assert adapters.sms.attempts == 1
    assert count(session_factory) == 1  # kept, never deleted


def test_gives_up_after_max_attempts(session_factory) -> None:
    message_id = sms_committed(session_factory)
    adapters = fakes()
    adapters.sms.fail_next(10)
    at = T0
    reports = []
    for _ in range(3):
        reports.append(send(session_factory, at, adapters, max_attempts=3))
        at = row(session_factory, message_id).next_attempt_at
    assert reports == [SendReport(retried=1), SendReport(retried=1), SendReport(failed=1)]
    stored = row(session_factory, message_id)
    assert stored.status == OutboxStatus.FAILED
    assert stored.attempts == 3
    assert stored.last_error.startswith("gave up after 3 attempts")
    assert adapters.sms.attempts == 3


def test_an_unexpected_adapter_error_counts_as_temporary(session_factory) -> None:
    message_id = sms_committed(session_factory)

    class Broken(RecordingSms):
        def send_sms(self, to: str, body: str) -> str:
            raise KeyError("oops")

    assert send(session_factory, T0, fakes(sms=Broken())) == SendReport(retried=1)
    assert "KeyError" in row(session_factory, message_id).last_error


def test_retry_delay_grows_to_an_hour_with_stable_jitter() -> None:
    delays = [retry_delay(n, 42) for n in range(1, 12)]
    assert delays == [retry_delay(n, 42) for n in range(1, 12)]  # deterministic
    for n, delay in enumerate(delays, start=1):
        base = min(30 * 2 ** (n - 1), 3600)
        assert 0.8 * base <= delay.total_seconds() <= base
    assert all(b > a for a, b in zip(delays[:7], delays[1:8], strict=True))
    assert max(delays) <= timedelta(hours=1)
    assert len({retry_delay(1, i) for i in range(1, 30)}) > 3  # spread across messages


def test_a_dedupe_key_enqueues_once(session_factory) -> None:
    with session_factory() as s:
        first = sms(s, RESIDENT, "请评价", T0, dedupe_key="rating-sms:7")
        assert first is not None
        assert sms(s, RESIDENT, "请评价", T0, dedupe_key="rating-sms:7") is None
        # the caller's transaction is still usable after the refused duplicate
        added(s, messages.notice(Recipient.user(3), "x", kind="test", now=T0))
        s.commit()
    with session_factory() as s:
        assert sms(s, RESIDENT, "again", T0, dedupe_key="rating-sms:7") is None
        s.commit()
    assert count(session_factory) == 2


def test_a_rolled_back_enqueue_leaves_nothing_to_send(session_factory, engine, backend) -> None:
    adapters = fakes()
    reports: list[SendReport] = []
    sender = threading.Thread(target=lambda: reports.append(send(session_factory, T0, adapters)))
    began = threading.Event()

    def sender_begins(*_: Any) -> None:  # runs before the other hooks: before any lock is taken
        if threading.current_thread() is sender:
            began.set()

    # A new connection sets its pragmas first (and may wait there), a pooled one begins at once.
    event.listen(engine, "connect", sender_begins, insert=True)
    event.listen(engine, "begin", sender_begins, insert=True)
    with session_factory() as s:
        sms(s, WORKER, "offer", T0)
        # A sender running meanwhile must not see the uncommitted row. On SQLite it waits for
        # the writer; on PostgreSQL it runs at once and finds nothing.
        sender.start()
        assert began.wait(30), "the sender never started its claim"
        if backend == "postgresql":
            sender.join(timeout=30)
            assert reports == [SendReport()]  # done while the row was still uncommitted
        s.rollback()
    sender.join(timeout=30)
    assert reports == [SendReport()]
    assert adapters.sms.delivered == []
    assert count(session_factory) == 0


def test_send_due_refuses_a_session_with_open_work(session_factory) -> None:
    with session_factory() as s:
        sms(s, WORKER, "offer", T0)
        with pytest.raises(RuntimeError, match="open transaction"):
            send_due(s, now=T0, adapters=fakes())


def test_concurrent_senders_never_send_a_message_twice(session_factory) -> None:
    n = 40
    with session_factory() as s:
        for i in range(n):
            sms(s, f"+86138000{i:05d}", f"m{i}", T0 + timedelta(milliseconds=i))
        s.commit()
    shared = fakes(sms=RecordingSms(delay=0.005))
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    handled: list[int] = []

    def sender() -> None:
        try:
            barrier.wait()
            mine = 0
            while report := send(session_factory, T0 + timedelta(seconds=1), shared, batch=5).handled:
                mine += report
            handled.append(mine)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert sum(handled) == n and min(handled) > 0, handled  # both really took part
    recipients = shared.sms.recipients()
    assert len(recipients) == n and len(set(recipients)) == n
    with session_factory() as s:
        stored = s.execute(select(OutboxMessage.status, OutboxMessage.attempts)).all()
    assert {(status, attempts) for status, attempts in stored} == {(OutboxStatus.SENT, 1)}


def test_a_claim_in_progress_is_skipped_not_waited_for(session_factory, backend) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite has one writer: a second claim waits for the first to commit")
    held = sms_committed(session_factory, body="held")
    free = sms_committed(session_factory, body="free")
    adapters = fakes()
    with session_factory() as other_sender:  # mid-claim: holds the row lock on ``held``
        other_sender.execute(select(OutboxMessage.id).where(OutboxMessage.id == held).with_for_update())
        assert send(session_factory, T0, adapters) == SendReport(sent=1)
    assert [d.body for d in adapters.sms.delivered] == ["free"]
    assert row(session_factory, free).status == OutboxStatus.SENT
    assert row(session_factory, held).status == OutboxStatus.PENDING


def test_the_tracking_job_sends_with_the_wired_adapters(settings, db_url) -> None:
    clock = FrozenClock(T0)
    adapters = fakes()
    ctx = AppContext.build(settings, clock, adapters=adapters)
    try:
        sms_committed(ctx.sessions)
        loop = TrackingLoop(ctx, jobs=(Job("send_outbox", send_outbox, sends=True),), holder="t")
        assert loop.tick() == {"send_outbox": 1}
        assert adapters.sms.recipients() == [WORKER]
        assert loop.tick() == {"send_outbox": 0}
    finally:
        ctx.close()


class Crash(BaseException):
    """The process dies: nothing after this line runs."""


def test_a_crash_after_sending_never_resends_an_sms(session_factory) -> None:
    message_id = sms_committed(session_factory)

    class CrashAfterSending(RecordingSms):
        def send_sms(self, to: str, body: str) -> str:
            super().send_sms(to, body)
            raise Crash

    dying = fakes(sms=CrashAfterSending())
    with pytest.raises(Crash):
        send(session_factory, T0, dying)
    stored = row(session_factory, message_id)
    assert stored.status == OutboxStatus.PENDING and stored.external_id.startswith(CLAIM_PREFIX)

    healthy = fakes()
    assert send(session_factory, T0 + timedelta(minutes=5), healthy) == SendReport()  # still claimed
    assert send(session_factory, T0 + DEFAULT_CLAIM_TIMEOUT, healthy) == SendReport(uncertain=1)
    stored = row(session_factory, message_id)
    assert stored.status == OutboxStatus.UNCERTAIN  # for a lookup or an admin, never resent by itself
    assert "outcome unknown" in stored.last_error
    assert len(dying.sms.delivered) == 1 and healthy.sms.delivered == []
    assert send(session_factory, T0 + timedelta(days=1), healthy) == SendReport()


def test_an_interrupted_sender_hands_back_what_it_did_not_send(session_factory) -> None:
    first = sms_committed(session_factory, body="first")
    second = sms_committed(session_factory, body="second", now=T0 + timedelta(seconds=1))

    class InterruptedAfterFirst(RecordingSms):
        def send_sms(self, to: str, body: str) -> str:
            super().send_sms(to, body)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        send(session_factory, T0 + timedelta(seconds=1), fakes(sms=InterruptedAfterFirst()))
    released = row(session_factory, second)
    assert (released.external_id, released.attempts) == ("", 0)
    healthy = fakes()
    assert send(session_factory, T0 + timedelta(seconds=2), healthy) == SendReport(sent=1)
    assert [d.body for d in healthy.sms.delivered] == ["second"]
    assert row(session_factory, first).external_id.startswith(CLAIM_PREFIX)  # outcome unknown


def test_a_crash_while_notifying_resends_the_notification_with_the_same_id(session_factory) -> None:
    with session_factory() as s:
        note = added(s, messages.notice(Recipient.user(9), "新工单", kind="offer", now=T0))
        s.commit()

    class CrashAfterNotifying(RecordingNotifier):
        def notify(self, recipient: Recipient, body: str, payload: dict[str, Any]) -> str:
            super().notify(recipient, body, payload)
            raise Crash

    with pytest.raises(Crash):
        send(session_factory, T0, fakes(notifier=CrashAfterNotifying()))
    healthy = fakes()
    assert send(session_factory, T0 + DEFAULT_CLAIM_TIMEOUT, healthy) == SendReport(sent=1)
    [again] = healthy.notifier.delivered
    assert again.payload["outbox_id"] == note.id  # receivers drop what they have already shown
    stored = row(session_factory, note.id)
    assert stored.status == OutboxStatus.SENT and stored.attempts == 2


def test_enqueue_checks_its_arguments(session_factory) -> None:
    with session_factory() as s:
        with pytest.raises(ValueError):
            sms(s, "", "x", T0)
        with pytest.raises(ValueError):
            sms(s, WORKER, "x", T0, dedupe_key="k" * 121)
        with pytest.raises(ValueError, match="not a notification recipient"):
            messages.build(channel=OutboxChannel.NOTIFY, recipient="org-admins:1", now=T0)
        message = added(s, messages.call(RESIDENT, kind="rating", now=T0))
        assert message.channel == OutboxChannel.CALL and message.status == OutboxStatus.PENDING
