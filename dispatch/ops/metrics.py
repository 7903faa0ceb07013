"""Prometheus metrics: what a process counts, what the database says at scrape time.

Two kinds, kept apart on purpose:

- **Counted in the process** (requests, latencies) and **the process's own state** (does it hold
  the tracking lease, how many event streams it serves, is its AMI session up). With
  ``PROMETHEUS_MULTIPROC_DIR`` set, prometheus_client writes these to files in that directory and a
  scrape of any worker adds up every worker's files (``MultiProcessCollector``): several uvicorn
  workers, one scrape. Gauges say how they add up (``multiprocess_mode``): stream clients are
  summed over live workers, the lease and AMI state are the maximum (1 if any worker of the
  instance holds it / is connected).
- **Read from the database when scraped** (orders by status, the outbox backlog and its oldest
  pending row): :class:`DatabaseCollector`, one GROUP BY and one aggregate. Every worker sees the
  same database, so these are never written to files and never added up.

Labels carry route templates (``/api/v1/orders/{order_id}``), methods and statuses, never a raw
path, a name or a phone number: bounded, and nothing personal.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dispatch.db import read_only
from models import Order, OrderStatus, OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Methods outside these are counted as OTHER: a client cannot grow the label set.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"  # no route: 404s of scanners must not add one series per path

HTTP_REQUESTS = Counter(
    "sanshe_http_requests",
    "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "sanshe_http_request_duration_seconds",
    "Time from request to the end of the response, by method and route template "
    "(event streams left out: they last as long as the client stays)",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
LEASE_HELD = Gauge(
    "sanshe_tracking_lease_held",
    "1 if this instance runs the tracking loop (holds its lease); summed over instances it is 1",
    multiprocess_mode="livemax",
)
STREAM_CLIENTS = Gauge(
    "sanshe_event_stream_clients",
    "Live event streams (SSE) connected to this instance",
    multiprocess_mode="livesum",
)
AMI_CONNECTED = Gauge(
    "sanshe_ami_connected",
    "1 while the Asterisk manager (AMI) session is up; only when [asterisk] is enabled",
    ["server"],
    multiprocess_mode="livemax",
)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def observe_request(method: str, route: str, status: int, seconds: float, *, streamed: bool) -> None:
    method = method if method in METHODS else "OTHER"
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    if not streamed:
        HTTP_LATENCY.labels(method, route).observe(seconds)


class ProcessState:
    """Copies this process's state into its gauges; ``sample()`` is called often by the server
    (and at each scrape), so every worker's files stay current without the domain knowing."""

    def __init__(
        self,
        *,
        lease_held: Callable[[], bool] | None = None,
        stream_clients: Callable[[], int] | None = None,
        ami: tuple[str, Callable[[], bool]] | None = None,
    ) -> None:
        self._lease_held = lease_held
        self._stream_clients = stream_clients
        self._ami = ami

    def sample(self) -> None:
        LEASE_HELD.set(1 if self._lease_held is not None and self._lease_held() else 0)
        STREAM_CLIENTS.set(self._stream_clients() if self._stream_clients is not None else 0)
        if self._ami is not None:
            server, connected = self._ami
            AMI_CONNECTED.labels(server).set(1 if connected() else 0)

    def stop(self) -> None:
        """The process is going: its live gauges leave the sums (multiprocess mode) or read 0."""
        if multiprocess_dir():
            mark_process_dead(os.getpid())
        else:
            LEASE_HELD.set(0)
            STREAM_CLIENTS.set(0)
            if self._ami is not None:
                AMI_CONNECTED.labels(self._ami[0]).set(0)


class DatabaseCollector:
    """Gauges read from the database at scrape time: cheap aggregates over indexed columns."""

    def __init__(self, sessions: sessionmaker[Session], now: Callable[[], datetime]) -> None:
        self._sessions = sessions
        self._now = now

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "sanshe_metrics_database_up", "1 if the database answered this scrape's queries"
        )
        try:
            with read_only(self._sessions) as session:
                by_status = dict(
                    session.execute(select(Order.status, func.count()).group_by(Order.status)).all()
                )
                pending, oldest = session.execute(
                    select(func.count(), func.min(OutboxMessage.created_at)).where(
                        OutboxMessage.status == OutboxStatus.PENDING
                    )
                ).one()
        except Exception as exc:  # a scrape reports the outage, it does not fail with it
            log.warning("metrics: could not read the database: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        orders = GaugeMetricFamily("sanshe_orders", "Orders by current status", labels=["status"])
        for status in OrderStatus:
            orders.add_metric([status.value], by_status.get(status, 0))
        yield orders
        yield GaugeMetricFamily(
            "sanshe_outbox_pending", "Outbox messages waiting to be sent (backlog)", value=pending
        )
        age = max(0.0, (self._now() - oldest).total_seconds()) if oldest is not None else 0.0
        yield GaugeMetricFamily(
            "sanshe_outbox_oldest_pending_age_seconds",
            "Age of the oldest outbox message still pending; 0 when none is",
            value=age,
        )


def render(database: DatabaseCollector) -> tuple[bytes, str]:
    """The exposition text of one scrape and its content type."""
    directory = multiprocess_dir()
    if directory:
        # Every worker's files; the per-process default collectors (process_*, gc) do not apply.
        processes = CollectorRegistry()
        MultiProcessCollector(processes, path=directory)
    else:
        processes = REGISTRY
    scraped = CollectorRegistry()
    scraped.register(database)
    return generate_latest(processes) + generate_latest(scraped), CONTENT_TYPE_LATEST
