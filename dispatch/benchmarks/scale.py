"""Several instances on one PostgreSQL: order intake with 1 and then 2 ``sanshe serve`` processes,
and the screen pop across instances, in the same run.

The database is the one ``--database-url`` names (an empty database: it is migrated and seeded)
or a throw-away cluster from the system's PostgreSQL binaries. Intake is the closed loop of
``bench intake`` (N client threads, realistic orders, auto-dispatch on): first against instance
A alone, then with instance B started and every client alternating between A and B, for the same
time. The pops: an operator's stream is open on B; the bench rings the operator's extension on A
(``POST /api/v1/telephony/events``), one call at a time, and times ring → ``screen_pop`` frame on
B, and publish → frame (the ``live_event`` row's ``created_at`` against the frame's arrival, both
on this machine's clock). Pops are measured idle and again while intake runs on both instances.
"""

from __future__ import annotations

import itertools
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from dispatch.benchmarks.intake import DESCRIPTIONS, _demo_addresses, _drive, _free_port, _wait_up
from dispatch.benchmarks.pgcluster import TempPostgres
from dispatch.benchmarks.sse import SseReader

ROOT = Path(__file__).resolve().parents[2]
_calls = itertools.count(1)


def _percentiles(samples: list[float]) -> dict[str, float]:
    samples = sorted(samples)
    n = len(samples)
    return {
        "n": n,
        "p50_ms": 1000 * samples[n // 2] if n else float("nan"),
        "p99_ms": 1000 * samples[min(n - 1, int(n * 0.99))] if n else float("nan"),
    }


@contextmanager
def _database(database_url: str | None) -> Iterator[str]:
    if database_url:
        if make_url(database_url).get_backend_name() != "postgresql":
            raise ValueError("bench scale needs PostgreSQL: --database-url postgresql+psycopg://…")
        yield database_url
        return
    cluster = TempPostgres()
    try:
        server = cluster.start()
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text('CREATE DATABASE "sanshe_bench"'))
        admin.dispose()
        yield make_url(server).set(database="sanshe_bench").render_as_string(hide_password=False)
    finally:
        cluster.stop()


class _Instances:
    """``sanshe serve`` processes of this checkout on one database."""

    def __init__(self, url: str, workdir: Path) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SANSHE_")}
        self.env["SANSHE_DATABASE_URL"] = url
        self.env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [self.env.get("PYTHONPATH")])])
        self.workdir = workdir
        self.procs: list[subprocess.Popen[bytes]] = []

    def run(self, *argv: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "dispatch.cli", *argv],
            env=self.env,
            cwd=self.workdir,
            check=True,
            capture_output=True,
        )

    def start(self, *argv: str, **env: str) -> str:
        port = _free_port()
        self.procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "dispatch.cli", "serve", "--port", str(port)]
                + ["--no-tracking", "--no-simulator", *argv],
                env=self.env | env,
                cwd=self.workdir,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        base = f"http://127.0.0.1:{port}"
        _wait_up(f"{base}/health")
        return base

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.wait(timeout=30)
        self.procs = []


def _token(base: str, username: str) -> str:
    r = httpx.post(f"{base}/api/v1/auth/token", data={"username": username, "password": "demo1234"})
    r.raise_for_status()
    return r.json()["access_token"]


def _pops(
    ring_on: str, admin: str, reader: SseReader, *, count: int | None, stop: threading.Event | None = None
) -> list[tuple[float, int, float]]:
    """Ring extension 1001 on one instance, one call at a time, until ``count`` pops (or ``stop``):
    (ring → frame seconds, message id, frame arrival on the wall clock) per pop."""
    found: list[tuple[float, int, float]] = []
    with httpx.Client(headers={"Authorization": f"Bearer {admin}"}, timeout=30) as client:
        while (count is None or len(found) < count) and not (stop is not None and stop.is_set()):
            call_id = f"scale-{next(_calls)}"
            event = {
                "type": "ringing",
                "call_id": call_id,
                "source": "simulator",
                "caller": f"139{random.randrange(10**8):08d}",
                "callee": "12345",
                "queue": "hotline",
                "operator_ext": "1001",
                "at": datetime.now(UTC).isoformat(),
            }
            started = time.perf_counter()
            r = client.post(f"{ring_on}/api/v1/telephony/events", json=event)
            r.raise_for_status()
            at, id_, _ = reader.wait_frame(
                "screen_pop", lambda d, c=call_id: d["call"]["external_id"] == c, timeout=30
            )
            wall = time.time() - (time.perf_counter() - at)  # the arrival, on the wall clock
            found.append((at - started, id_ or 0, wall))
    return found


def _publish_to_frame(url: str, pops: list[tuple[float, int, float]]) -> list[float]:
    engine = create_engine(url)
    with engine.connect() as conn:
        created = dict(
            conn.execute(
                text("SELECT id, extract(epoch FROM created_at) FROM live_event WHERE id = ANY(:ids)"),
                {"ids": [id_ for _, id_, _ in pops]},
            ).all()
        )
    engine.dispose()
    return [wall - float(created[id_]) for _, id_, wall in pops if id_ in created]


def _pop_summary(url: str, pops: list[tuple[float, int, float]]) -> dict[str, Any]:
    return {
        "ring_to_frame": _percentiles([ring for ring, _, _ in pops]),
        "publish_to_frame": _percentiles(_publish_to_frame(url, pops)),
    }


def bench_scale(
    *,
    database_url: str | None = None,
    seconds: float = 10.0,
    threads: int = 4,
    pops: int = 200,
    workers: int = 2,
) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="sanshe-bench-scale-") as tmp,
        _database(database_url) as url,
        ExitStack() as stack,
    ):
        servers = _Instances(url, Path(tmp))
        servers.run("migrate")
        servers.run("seed-demo")
        stack.callback(servers.stop)
        addresses = _demo_addresses(url)
        turn = itertools.count()

        def order(rng: random.Random) -> dict[str, str]:
            return {
                "caller_phone": f"139{rng.randrange(10**8):08d}",
                "description": rng.choice(DESCRIPTIONS),
                "address": rng.choice(addresses),
                "channel": "phone",
            }

        # The reference: one instance whose live stream stays in memory (what the PostgreSQL
        # bus costs intake: an INSERT + NOTIFY after each commit).
        a = servers.start(SANSHE_LIVE__BUS="memory")
        operator, admin = _token(a, "operator1"), _token(a, "admin")
        headers = {"Authorization": f"Bearer {operator}"}
        _drive(f"{a}/api/v1/orders", order, headers, threads=1, seconds=2.0)  # warm
        memory = _drive(f"{a}/api/v1/orders", order, headers, threads=threads, seconds=seconds)
        servers.stop()

        a = servers.start()
        _drive(f"{a}/api/v1/orders", order, headers, threads=1, seconds=2.0)  # warm A
        one = _drive(f"{a}/api/v1/orders", order, headers, threads=threads, seconds=seconds)

        b = servers.start()
        _drive(f"{b}/api/v1/orders", order, headers, threads=1, seconds=2.0)  # warm B

        def alternating() -> str:
            return f"{(a, b)[next(turn) % 2]}/api/v1/orders"

        two = _drive(alternating, order, headers, threads=threads, seconds=seconds)
        with SseReader(b, operator) as reader:
            _pops(a, admin, reader, count=20)  # warm the pop path on both
            idle = _pops(a, admin, reader, count=pops)
            # Once more with intake on both instances, pops rung all the while.
            stop = threading.Event()
            loaded: list[tuple[float, int, float]] = []
            popper = threading.Thread(
                target=lambda: loaded.extend(_pops(a, admin, reader, count=None, stop=stop)), daemon=True
            )
            popper.start()
            busy = _drive(alternating, order, headers, threads=threads, seconds=seconds)
            stop.set()
            popper.join(60)
        servers.stop()
        # One instance of N uvicorn worker processes (sanshe serve --workers N).
        w = servers.start("--workers", str(workers))
        _drive(f"{w}/api/v1/orders", order, headers, threads=1, seconds=2.0)  # warm every worker a little
        several = _drive(f"{w}/api/v1/orders", order, headers, threads=threads, seconds=seconds)
        return {
            "threads": threads,
            "seconds": seconds,
            "intake": {
                "1, memory bus": memory,
                "1 instance": one,
                "2 instances": two,
                "2 + pops": busy,
                f"1 × {workers} workers": several,
            },
            "pops_idle": _pop_summary(url, idle),
            "pops_loaded": _pop_summary(url, loaded),
        }


def format_scale(r: dict[str, Any]) -> str:
    intake = r["intake"]
    base = intake["1 instance"]
    lines = [
        f"intake, {r['threads']} client threads, {r['seconds']:.0f} s each (auto-dispatch on):",
        "instances        orders  errors  orders/s    p50 ms    p99 ms  ÷ 1 instance",
    ]
    for name, m in intake.items():
        lines.append(
            f"{name:<14} {m['requests']:>8.0f} {m['errors']:>7.0f} {m['rps']:>9.1f} {m['p50_ms']:>9.2f}"
            f" {m['p99_ms']:>9.2f}  {m['rps'] / base['rps']:>6.2f}× orders/s"
        )
    lines.append("screen pop, rung on A, operator's stream on B:")
    lines.append("condition                  pops   ring→frame p50/p99 ms   publish→frame p50/p99 ms")
    for name, key in (("idle", "pops_idle"), ("during 2-instance intake", "pops_loaded")):
        ring, pub = r[key]["ring_to_frame"], r[key]["publish_to_frame"]
        lines.append(
            f"{name:<25} {ring['n']:>5.0f}   {ring['p50_ms']:>8.1f} / {ring['p99_ms']:<8.1f}"
            f"     {pub['p50_ms']:>8.1f} / {pub['p99_ms']:<8.1f}"
        )
    lines.append("target: pop p99 ≤ 100 ms across instances")
    return "\n".join(lines)
