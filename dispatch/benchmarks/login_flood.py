"""Other users during a login flood: ``GET /api/v1/me`` latency idle, then while 16 clients send
wrong passwords for a known account as fast as they can (target: p50 and p99 at most 3× idle).

The server is a real ``sanshe serve`` process on a migrated, seeded SQLite file (the embedded
default, where one writer at a time used to make every request queue behind the flood). Two
servers are measured in the same run:

- ``throttled``: the default settings, where the flood is soon answered 429 without a password
  check;
- ``unthrottled``: the throttling limits raised to their maximum, so every attempt costs a full
  argon2 check — the case of guesses spread over many addresses and accounts, where only the
  bound on parallel password checks (``[auth] max_concurrent_password_checks``) protects the others.

The observer is one signed-in user asking for ``/me`` in a closed loop; the same loop is measured
idle first, against the same server, and the flood figures are reported as ratios of it.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from dispatch.benchmarks.intake import _free_port, _wait_up

FLOODERS = 16
# Throttling lifted as far as the settings allow: every wrong password is checked.
UNTHROTTLED = {
    "SANSHE_AUTH__MAX_FAILURES_PER_ACCOUNT_ADDRESS": "1000",
    "SANSHE_AUTH__MAX_FAILURES_PER_ADDRESS": "10000",
    "SANSHE_AUTH__MAX_FAILURES_PER_ACCOUNT": "100000",
}


def _percentiles(samples: list[float]) -> dict[str, float]:
    samples = sorted(samples)
    n = len(samples)
    return {
        "requests": n,
        "p50_ms": 1000 * samples[n // 2] if n else float("nan"),
        "p99_ms": 1000 * samples[min(n - 1, int(n * 0.99))] if n else float("nan"),
    }


def _observe(base: str, token: str, seconds: float) -> list[float]:
    samples: list[float] = []
    stop_at = time.perf_counter() + seconds
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60.0) as client:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            r = client.get(f"{base}/api/v1/me")
            samples.append(time.perf_counter() - started)
            if r.status_code != 200:
                raise RuntimeError(f"/me answered {r.status_code}: {r.text}")
    return samples


def bench_login_flood(*, seconds: float = 8.0, flooders: int = FLOODERS) -> dict[str, Any]:
    return {
        "flooders": flooders,
        "throttled": _phase({}, seconds=seconds, flooders=flooders),
        "unthrottled": _phase(UNTHROTTLED, seconds=seconds, flooders=flooders),
    }


def _flood(base: str, flooders: int, stop: Any, results: Any) -> None:
    """In a process of its own: ``flooders`` clients send wrong passwords for ``admin`` as fast as
    they are answered until ``stop``; puts True once under way, then (attempts, statuses).

    At a lower CPU priority: the attackers are other machines, and on a small benchmark box their
    HTTP clients would otherwise take the server's cores (what is measured is the server)."""
    os.nice(10)
    lock = threading.Lock()
    statuses: dict[int, int] = {}
    started = threading.Event()

    def one() -> None:
        with httpx.Client(timeout=120.0) as client:
            while not stop.is_set():
                r = client.post(
                    f"{base}/api/v1/auth/token", data={"username": "admin", "password": "wrong-password"}
                )
                with lock:
                    statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                    if sum(statuses.values()) >= flooders:
                        started.set()

    pool = [threading.Thread(target=one, daemon=True) for _ in range(flooders)]
    for t in pool:
        t.start()
    results.put(started.wait(timeout=120))
    for t in pool:
        t.join(timeout=180)
    results.put((sum(statuses.values()), statuses))


def _phase(settings: dict[str, str], *, seconds: float, flooders: int) -> dict[str, Any]:
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory(prefix="sanshe-bench-login-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SANSHE_")}
        env["SANSHE_DATABASE_URL"] = f"sqlite:///{tmp}/sanshe.db"
        env.update(settings)
        for step in (["migrate"], ["seed-demo"]):
            subprocess.run([str(bin_dir / "sanshe"), *step], env=env, check=True, capture_output=True)
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [str(bin_dir / "sanshe"), "serve", "--port", str(port), "--no-tracking", "--no-simulator"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_up(f"{base}/health")
            token = httpx.post(
                f"{base}/api/v1/auth/token",
                data={"username": "operator1", "password": "demo1234"},
                timeout=60,
            ).json()["access_token"]
            _observe(base, token, 1.0)  # warm-up
            idle = _observe(base, token, seconds)
            # The flood comes from another process (as it would from other machines), so the
            # observer's figures are the server's, not those of a client sharing its interpreter.
            ctx = multiprocessing.get_context("spawn")
            stop = ctx.Event()
            results = ctx.Queue()
            flood = ctx.Process(target=_flood, args=(base, flooders, stop, results), daemon=True)
            flood.start()
            try:
                if not results.get(timeout=120):  # the flood's first answers are in
                    raise RuntimeError("the flood could not start")
                during = _observe(base, token, seconds)
            finally:
                stop.set()
            attempts, statuses = results.get(timeout=180)
            flood.join(timeout=60)
        finally:
            server.terminate()
            server.wait(timeout=30)
    quiet, busy = _percentiles(idle), _percentiles(during)
    return {
        "idle": quiet,
        "flood": busy,
        "flood_attempts": attempts,
        "flood_statuses": statuses,
        "ratio": {"p50": busy["p50_ms"] / quiet["p50_ms"], "p99": busy["p99_ms"] / quiet["p99_ms"]},
    }


def format_login_flood(r: dict[str, Any]) -> str:
    lines = ["GET /api/v1/me            requests    p50 ms    p99 ms"]
    for phase in ("throttled", "unthrottled"):
        for name in ("idle", "flood"):
            row = r[phase][name]
            label = f"{phase} {name}"
            lines.append(f"{label:<24} {row['requests']:>9.0f} {row['p50_ms']:>9.2f} {row['p99_ms']:>9.2f}")
    for phase in ("throttled", "unthrottled"):
        p = r[phase]
        lines.append(
            f"{phase}: during a {r['flooders']}-way wrong-password flood ({p['flood_attempts']} attempts, "
            f"answers {p['flood_statuses']}): p50 {p['ratio']['p50']:.2f}× idle, "
            f"p99 {p['ratio']['p99']:.2f}× idle (target ≤ 3×)"
        )
    return "\n".join(lines)
