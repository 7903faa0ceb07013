"""An SSE client for the benchmarks and the tests: reads ``GET /api/v1/events`` in a thread."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx


class SseReader:
    """Reads an SSE stream in a thread; ``wait(event, predicate)`` returns (receive time, data),
    ``wait_frame`` also the message id. ``last_event_id`` resumes after that message."""

    def __init__(self, url: str, token: str, *, last_event_id: int | None = None) -> None:
        self._url, self._token = url, token
        self._last_event_id = last_event_id
        self._cond = threading.Condition()
        self._frames: list[tuple[float, str, dict[str, Any], int | None]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sse-reader", daemon=True)
        self.connected = threading.Event()

    def __enter__(self) -> SseReader:
        self._thread.start()
        if not self.connected.wait(10):
            raise RuntimeError("the event stream did not open")
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop reading; the thread ends at the next line or when the server closes the stream."""
        self._stop.set()

    def _run(self) -> None:
        try:
            self._read()
        except httpx.TransportError:
            if not self._stop.is_set():
                raise

    def _read(self) -> None:
        headers = {"Authorization": f"Bearer {self._token}"}
        if self._last_event_id is not None:
            headers["Last-Event-ID"] = str(self._last_event_id)
        with (
            httpx.Client(timeout=httpx.Timeout(10, read=None)) as client,
            client.stream("GET", f"{self._url}/api/v1/events", headers=headers) as response,
        ):
            response.raise_for_status()
            event, data, id_ = "message", "", None
            for line in response.iter_lines():
                now = time.perf_counter()
                if self._stop.is_set():
                    return
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data += line[5:].strip()
                elif line.startswith("id:"):
                    id_ = int(line[3:].strip())
                elif not line and data:
                    with self._cond:
                        self._frames.append((now, event, json.loads(data), id_))
                        self._cond.notify_all()
                    if event == "hello":
                        self.connected.set()
                    event, data, id_ = "message", "", None

    def wait(self, event: str, predicate: Any, timeout: float = 10.0) -> tuple[float, dict[str, Any]]:
        at, _, data = self.wait_frame(event, predicate, timeout)
        return at, data

    def wait_frame(
        self, event: str, predicate: Any, timeout: float = 10.0
    ) -> tuple[float, int | None, dict[str, Any]]:
        """The first unread ``event`` frame whose data satisfies ``predicate``: (receive time on
        ``time.perf_counter``, message id, data)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i, (at, name, data, id_) in enumerate(self._frames):
                    if name == event and predicate(data):
                        del self._frames[i]
                        return at, id_, data
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no {event} frame within {timeout}s")
                self._cond.wait(left)
