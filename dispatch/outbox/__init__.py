"""Outbox: SMS, calls and console notifications written with the change that causes them and sent
after commit, with retries; see ``dispatch.outbox.sender`` for the delivery guarantee."""

from dispatch.outbox.sender import (
    SendReport,
    enqueue,
    enqueue_call,
    enqueue_notify,
    enqueue_sms,
    retry_delay,
    send_due,
    send_outbox,
)

__all__ = [
    "SendReport",
    "enqueue",
    "enqueue_call",
    "enqueue_notify",
    "enqueue_sms",
    "retry_delay",
    "send_due",
    "send_outbox",
]
