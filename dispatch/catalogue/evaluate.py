"""Measure category suggestion on a labelled CSV (columns ``text``, ``acceptable``).

``acceptable`` lists the item codes an expert would accept for the text, ``|``-separated. A
suggestion counts for the category when it falls in the category of any acceptable item; the
category is looked up from the suggester's own items, never guessed from the code's prefix.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from dispatch.catalogue.suggest import Suggester


@dataclass(frozen=True, slots=True)
class EvalFailure:
    text: str
    acceptable: frozenset[str]
    got: tuple[str, ...]  # suggested item codes, best first (empty when nothing was suggested)


@dataclass
class EvalResult:
    n: int
    item_top1: float
    item_top3: float
    category_top1: float
    failures: list[EvalFailure] = field(default_factory=list)  # rows whose top-1 item is wrong
    counts: tuple[int, int, int] = (0, 0, 0)  # item top-1, item top-3, category top-1 hits


def read_eval_csv(path: Path | str) -> list[tuple[str, frozenset[str]]]:
    """Rows of (text, acceptable codes). Raises ValueError on a missing column or empty label."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"text", "acceptable"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"missing column(s): {', '.join(sorted(missing))}")
        rows: list[tuple[str, frozenset[str]]] = []
        for line, raw in enumerate(reader, start=2):
            text = (raw["text"] or "").strip()
            codes = frozenset(c.strip() for c in (raw["acceptable"] or "").split("|") if c.strip())
            if not text:
                continue
            if not codes:
                raise ValueError(f"line {line}: no acceptable item code")
            rows.append((text, codes))
    return rows


def evaluate(suggester: Suggester, rows: Iterable[tuple[str, frozenset[str]]]) -> EvalResult:
    category_of = {item.item_code: item.category_code for item in suggester.items}
    n = top1 = top3 = cat1 = 0
    failures: list[EvalFailure] = []
    for text, acceptable in rows:
        n += 1
        got = tuple(s.item_code for s in suggester.suggest(text, limit=3))
        wanted_categories = {category_of[c] for c in acceptable if c in category_of}
        if got and got[0] in acceptable:
            top1 += 1
        else:
            failures.append(EvalFailure(text=text, acceptable=acceptable, got=got))
        if acceptable.intersection(got):
            top3 += 1
        if got and category_of.get(got[0]) in wanted_categories:
            cat1 += 1
    rate = (lambda k: k / n) if n else (lambda k: 0.0)
    return EvalResult(
        n=n,
        item_top1=rate(top1),
        item_top3=rate(top3),
        category_top1=rate(cat1),
        failures=failures,
        counts=(top1, top3, cat1),
    )


def format_result(result: EvalResult) -> str:
    top1, top3, cat1 = result.counts
    lines = [
        f"requests:       {result.n}",
        f"items top-1:    {100 * result.item_top1:.1f} % ({top1}/{result.n})",
        f"items top-3:    {100 * result.item_top3:.1f} % ({top3}/{result.n})",
        f"category top-1: {100 * result.category_top1:.1f} % ({cat1}/{result.n})",
    ]
    if result.failures:
        lines.append(f"top-1 misses ({len(result.failures)}):")
        for f in result.failures:
            got = ", ".join(f.got) if f.got else "(nothing)"
            lines.append(f"  {f.text}  want {'|'.join(sorted(f.acceptable))}  got {got}")
    return "\n".join(lines)
