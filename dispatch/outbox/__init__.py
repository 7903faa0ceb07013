"""Outbox: SMS, calls and console notifications written with the change that causes them
(:mod:`.messages`) and sent after commit with retries (:mod:`.sender`, which explains the delivery
guarantee)."""
