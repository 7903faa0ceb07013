"""Category suggestion latency per query (target ≤ 5 ms), over the dev and holdout requests."""

from __future__ import annotations

import time
from pathlib import Path

from dispatch.catalogue.csvio import read_catalogue
from dispatch.catalogue.evaluate import read_eval_csv
from dispatch.catalogue.suggest import ItemText, Suggester

HOLDOUT = Path(__file__).resolve().parents[2] / "tests" / "data" / "intake_holdout.csv"


def bench_suggest(texts: list[str] | None = None, rounds: int = 5) -> dict[str, float]:
    if texts is None:
        texts = [t for t, _ in read_eval_csv(HOLDOUT)] if HOLDOUT.exists() else ["我家厨房水管爆了"]
    started = time.perf_counter()
    suggester = Suggester([ItemText.from_row(r) for r in read_catalogue()])
    build_s = time.perf_counter() - started
    for text in texts:  # warm-up
        suggester.suggest(text)
    samples: list[int] = []
    for _ in range(rounds):
        for text in texts:
            t0 = time.perf_counter_ns()
            suggester.suggest(text, limit=3)
            samples.append(time.perf_counter_ns() - t0)
    samples.sort()
    pct = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))] / 1e6  # noqa: E731
    return {
        "queries": len(samples),
        "build_s": build_s,
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
        "max_ms": samples[-1] / 1e6,
    }


def format_suggest(r: dict[str, float]) -> str:
    return (
        f"suggest: {r['queries']:.0f} queries, p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, "
        f"max {r['max_ms']:.2f} ms (target p99 ≤ 5 ms); index built in {r['build_s']:.2f} s"
    )
