"""Order intake over real HTTP against a trivial insert-one-row endpoint, in the same run.

Both servers run as separate uvicorn processes on SQLite files in a temporary directory; the
same closed-loop client (N threads, each with a keep-alive connection) drives each for the same
time. The intake requests are realistic: demo addresses, free-text descriptions to classify,
auto-dispatch on. Reported: requests/s, p50/p99 latency, and intake ÷ trivial throughput.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import select

DESCRIPTIONS = (
    "我家卫生间水管裂了一直在漏水",
    "厨房下水道堵住了，洗碗水下不去",
    "空调开了不出冷风",
    "老人在家摔倒了，想请人上门看看",
    "想咨询一下低保怎么申请",
    "楼道灯坏了好几天了",
    "家里跳闸了一直没电",
    "想给独居的母亲申请助餐服务",
    "马桶冲不下去",
    "门锁坏了打不开",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_up(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def _drive(
    url: str | Callable[[], str], make_body, headers: dict[str, str], *, threads: int, seconds: float
) -> dict[str, float]:
    """A closed loop of ``threads`` clients for ``seconds``; ``url`` may be a function giving each
    request's URL (several instances in turn)."""
    target = url if callable(url) else lambda: url
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def worker(seed: int) -> None:
        nonlocal errors
        rng = random.Random(seed)
        mine: list[float] = []
        bad = 0
        with httpx.Client(headers=headers, timeout=30.0) as client:
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                r = client.post(target(), json=make_body(rng))
                mine.append(time.perf_counter() - started)
                bad += r.status_code >= 400
        with lock:
            latencies.extend(mine)
            errors += bad

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    begun = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - begun
    latencies.sort()
    n = len(latencies)
    return {
        "requests": n,
        "errors": errors,
        "rps": n / elapsed,
        "p50_ms": 1000 * latencies[n // 2] if n else float("nan"),
        "p99_ms": 1000 * latencies[min(n - 1, int(n * 0.99))] if n else float("nan"),
    }


def bench_intake(*, seconds: float = 10.0, threads: int = 4) -> dict[str, dict[str, float]]:
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory(prefix="sanshe-bench-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SANSHE_")}
        env["SANSHE_DATABASE_URL"] = f"sqlite:///{tmp}/sanshe.db"
        for step in (["migrate"], ["seed-demo"]):
            subprocess.run([str(bin_dir / "sanshe"), *step], env=env, check=True, capture_output=True)
        addresses = _demo_addresses(env["SANSHE_DATABASE_URL"])
        sanshe_port, trivial_port = _free_port(), _free_port()
        procs = [
            subprocess.Popen(
                [
                    str(bin_dir / "sanshe"),
                    "serve",
                    "--port",
                    str(sanshe_port),
                    "--no-tracking",
                    "--no-simulator",
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            ),
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "dispatch.benchmarks.trivial_app",
                    str(trivial_port),
                    f"sqlite:///{tmp}/trivial.db",
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            ),
        ]
        try:
            _wait_up(f"http://127.0.0.1:{sanshe_port}/health")
            _wait_up(f"http://127.0.0.1:{trivial_port}/docs")
            token = httpx.post(
                f"http://127.0.0.1:{sanshe_port}/api/v1/auth/token",
                data={"username": "operator1", "password": "demo1234"},
            ).json()["access_token"]

            def intake_body(rng: random.Random) -> dict[str, str]:
                return {
                    "caller_phone": f"139{rng.randrange(10**8):08d}",
                    "description": rng.choice(DESCRIPTIONS),
                    "address": rng.choice(addresses),
                    "channel": "phone",
                }

            def trivial_body(rng: random.Random) -> dict[str, str]:
                return {
                    "caller_phone": f"139{rng.randrange(10**8):08d}",
                    "description": rng.choice(DESCRIPTIONS),
                }

            # Warm both (imports, the suggester, the provider index), then measure each in turn.
            _drive(f"http://127.0.0.1:{trivial_port}/notes", trivial_body, {}, threads=1, seconds=1.0)
            _drive(
                f"http://127.0.0.1:{sanshe_port}/api/v1/orders",
                intake_body,
                {"Authorization": f"Bearer {token}"},
                threads=1,
                seconds=2.0,
            )
            trivial = _drive(
                f"http://127.0.0.1:{trivial_port}/notes", trivial_body, {}, threads=threads, seconds=seconds
            )
            intake = _drive(
                f"http://127.0.0.1:{sanshe_port}/api/v1/orders",
                intake_body,
                {"Authorization": f"Bearer {token}"},
                threads=threads,
                seconds=seconds,
            )
        finally:
            for p in procs:
                p.terminate()
                p.wait(timeout=20)
    return {"trivial": trivial, "intake": intake, "ratio": {"throughput": intake["rps"] / trivial["rps"]}}


def _demo_addresses(url: str) -> list[str]:
    from dispatch.db import make_engine, make_sessionmaker
    from models import Resident

    engine = make_engine(url)
    with make_sessionmaker(engine)() as s:
        found = list(s.scalars(select(Resident.address).limit(300)))
    engine.dispose()
    return found


def format_intake(result: dict[str, dict[str, float]]) -> str:
    lines = ["endpoint              requests  errors     req/s    p50 ms    p99 ms"]
    for name in ("trivial", "intake"):
        r = result[name]
        lines.append(
            f"{name:<20} {r['requests']:>9.0f} {r['errors']:>7.0f} {r['rps']:>9.1f} {r['p50_ms']:>9.2f} {r['p99_ms']:>9.2f}"
        )
    lines.append(f"intake ÷ trivial throughput: {100 * result['ratio']['throughput']:.1f} %  (target ≥ 40 %)")
    return "\n".join(lines)
