"""The layers stay straight: an import scan of dispatch/, telephony/ and models/.

Three floors: HTTP, the CLI and the telephony adapters on top; domain services in the middle;
models at the bottom. ``dispatch/app.py`` and ``dispatch/cli.py`` are the only composition roots.
Every import counts, the ones inside functions too (a function-level import is still a dependency,
only a hidden one). Each rule prints the offending imports so a failure says what to move.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("dispatch", "telephony", "models")
COMPOSITION_ROOTS = frozenset({"dispatch.app", "dispatch.cli"})
# Request plumbing routers share: the transaction, the current user, role checks, paging, downloads.
HTTP_PLUMBING = frozenset({"dispatch.deps", "dispatch.downloads", "dispatch.pagination"})


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int

    def __str__(self) -> str:
        return f"{self.importer}:{self.line} imports {self.imported}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, ast.Module]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[module_name(path)] = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return found


def _resolve(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


@cache
def imports() -> tuple[Import, ...]:
    """Every import of a project module by a project module, resolved to the module imported
    (``from dispatch.orders import offers`` imports ``dispatch.orders.offers``)."""
    known = modules()
    found: list[Import] = []
    for name, tree in known.items():
        is_package = (ROOT / name.replace(".", "/") / "__init__.py").exists()
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(name, is_package, node)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
            for target in targets:
                if target.split(".")[0] in PACKAGES:
                    found.append(Import(name, target, node.lineno))
    return tuple(found)


def is_http(module: str) -> bool:
    """Routers and request plumbing: anything that imports FastAPI or Starlette."""
    for node in ast.walk(modules()[module]):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module or ""]
        if any(n.split(".")[0] in ("fastapi", "starlette") for n in names):
            return True
    return False


def package_of(module: str) -> str:
    """``dispatch.orders.offers`` → ``dispatch.orders``; a top-level module is its own unit."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "dispatch" else parts[0]


def under(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def violations(rule) -> list[str]:
    return sorted({str(i) for i in imports() if rule(i)})


def test_the_scan_sees_function_level_imports_and_packages() -> None:
    # The scan itself: it must find imports inside functions and resolve module imports.
    found = {(i.importer, i.imported) for i in imports()}
    assert ("dispatch.app", "dispatch.app") not in found
    assert any(
        i.importer == "dispatch.cli" and i.imported.startswith("dispatch.benchmarks.") for i in imports()
    )
    assert is_http("dispatch.orders.api") and not is_http("dispatch.orders.state")


def test_only_the_composition_roots_import_http_modules() -> None:
    def rule(i: Import) -> bool:
        if i.importer in COMPOSITION_ROOTS or not is_http(i.imported):
            return False
        # A router may use the request plumbing; nothing else may use a router.
        return not (is_http(i.importer) and i.imported in HTTP_PLUMBING)

    assert violations(rule) == []


def test_matching_is_a_library_that_knows_no_orders() -> None:
    assert (
        violations(lambda i: under(i.importer, "dispatch.matching") and under(i.imported, "dispatch.orders"))
        == []
    )


def test_telephony_adapters_reach_no_order_matching_or_tracking_code() -> None:
    forbidden = ("dispatch.orders", "dispatch.matching", "dispatch.tracking")
    assert violations(lambda i: under(i.importer, "telephony") and under(i.imported, *forbidden)) == []


def test_the_domain_never_imports_the_adapters() -> None:
    assert (
        violations(
            lambda i: (
                under(i.importer, "dispatch")
                and i.importer not in COMPOSITION_ROOTS
                and not under(i.importer, "dispatch.benchmarks")
                and under(i.imported, "telephony")
            )
        )
        == []
    )


def test_models_import_only_models() -> None:
    assert violations(lambda i: under(i.importer, "models") and not under(i.imported, "models")) == []


def _cycles(edges: dict[str, set[str]]) -> Iterator[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    counter = [0]

    def visit(node: str) -> Iterator[list[str]]:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                yield from visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                yield sorted(component)

    for node in sorted(edges):
        if node not in index:
            yield from visit(node)


def test_no_two_packages_import_each_other() -> None:
    """Between packages (``dispatch.orders``, ``dispatch.matching``, …, top-level modules each on
    their own) imports run one way: no cycle of any length. The composition roots and the HTTP
    modules, the top floor that may use any package, are left out."""
    edges: dict[str, set[str]] = defaultdict(set)
    why: dict[tuple[str, str], Import] = {}
    for i in imports():
        if i.importer in COMPOSITION_ROOTS or is_http(i.importer):
            continue
        a, b = package_of(i.importer), package_of(i.imported)
        if a != b:
            edges[a].add(b)
            why.setdefault((a, b), i)
    cycles = list(_cycles(edges))
    explained = [
        [str(why[(a, b)]) for a in cycle for b in cycle if (a, b) in why and b in edges[a]]
        for cycle in cycles
    ]
    assert explained == []


def test_benchmarks_live_in_dispatch_benchmarks() -> None:
    def benchmark_like(name: str, tree: ast.Module) -> bool:
        leaf = name.rsplit(".", 1)[-1]
        defines_bench = any(
            isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name.startswith("bench_")
            for n in tree.body
        )
        return "bench" in leaf or defines_bench

    misplaced = [
        name
        for name, tree in modules().items()
        if benchmark_like(name, tree) and not under(name, "dispatch.benchmarks")
    ]
    assert misplaced == []
