"""Waiting on a condition with a deadline: the one way tests wait for another thread or process.

Deadlines are generous (a loaded 2-core CI machine can be slow); a passing test returns as soon as
its condition holds, so a generous deadline costs nothing when things work.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

DEADLINE = 30.0


def wait_until(predicate: Callable[[], bool], timeout: float = DEADLINE, interval: float = 0.02) -> bool:
    """True as soon as ``predicate()`` holds; False if it still does not after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


async def until(predicate: Callable[[], bool], timeout: float = DEADLINE) -> bool:
    """``wait_until`` for a test running on an event loop: yields to the loop between checks."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.005)
    return predicate()
