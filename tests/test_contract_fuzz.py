"""The API keeps its contract under fuzzing: schemathesis against a real server, on both databases.

A real uvicorn server on a migrated database (SQLite and PostgreSQL, from conftest's templates)
seeded with the demo district; real tokens, got by signing in as each demo account. Schemathesis (its command line, the interface it
keeps stable) reads ``/openapi.json`` and calls operations with examples derived from it, and
checks every answer as ``tests/schemathesis.toml`` sets them: no server error; every status,
content type and body as documented (the checks it leaves out are named there, with the reason).

Each role that can call an operation calls it: the admin every operation (in all phases:
examples; coverage: boundary values, huge ids, NUL bytes, odd times and wrong types; fuzzing;
stateful: calls chained by the document's links), and every other role the signed-in operations
its role is allowed (read from the routes' ``require_roles`` and, for the order actions, from
``dispatch.orders.policy.ROLES``) in the examples and fuzzing phases: what a role changes is what
it is shown (masked phones, its own orders) and which way it goes, not how its input is parsed.

``make test`` runs a few examples per operation (``SANSHE_FUZZ_EXAMPLES``, default 5) with a fixed
seed, so a failure there is reproducible; ``make fuzz`` runs every role in every phase with many
more examples and a random seed (``SANSHE_FUZZ_SEED`` repeats one). Left out, with the reason:

- ``GET /api/v1/events``: a server-sent event stream that stays open until the client leaves
  (its authentication is tested in ``test_calls.py``);
- edits of the signed-in accounts themselves (``tests/support/fuzz_hooks.py``): a new password
  or role ends a session, and every later call would be a 401; likewise a resident's sign-out.

The residents' API (``/api/v1/r``) is called by a resident too, signed in by SMS code (read from
the app's SMS adapter, swapped for a recorder): the operations that need a resident token, in the
examples and fuzzing phases. The admin's run calls them with a staff token (refused) and calls the
public ones (config, catalogue, suggestions, places, the two sign-in steps) like every operation.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from dispatch.benchmarks.telephony import serve_in_thread
from dispatch.clock import Clock
from dispatch.db import make_engine, make_sessionmaker
from dispatch.orders.policy import ROLES as ACTION_ROLES
from dispatch.orders.policy import Verb
from dispatch.seed.demo import DEMO_PASSWORD, seed_demo
from models import Role
from tests.conftest import drop_postgres_database, fresh_postgres_url
from tests.support.residents import codes_sent, recording_sms
from tests.support.waiting import wait_until

HERE = Path(__file__).parent
CONFIG = HERE / "schemathesis.toml"
HOOKS = HERE / "support" / "fuzz_hooks.py"
ST = Path(sys.executable).parent / "st"
EXAMPLES = int(os.environ.get("SANSHE_FUZZ_EXAMPLES", "5"))
SEED = os.environ.get("SANSHE_FUZZ_SEED") or (None if os.environ.get("SANSHE_FUZZ_RANDOM") else "20261204")
# One worker: with a fixed seed the run is the same every time, and schemathesis' worker threads
# can meet a CPython race in ast.parse (hypothesis describing a filter: "SystemError: AST
# constructor recursion depth mismatch"), a crash of the tool, not a finding. make fuzz uses 4.
WORKERS = os.environ.get("SANSHE_FUZZ_WORKERS", "1")
ALL_PHASES = "examples,coverage,fuzzing,stateful"
# Every phase for every role (make fuzz); otherwise the other roles run the two phases above.
EVERY_ROLE_EVERY_PHASE = bool(os.environ.get("SANSHE_FUZZ_ALL_PHASES"))
ACCOUNTS = {
    Role.ADMIN: "admin",
    Role.SUPERVISOR: "supervisor",
    Role.OPERATOR: "operator1",
    Role.ORG_ADMIN: "orgadmin",
    Role.WORKER: "worker",
}
LEFT_OUT = ("/api/v1/events",)
RESIDENT_SCHEME = "ResidentToken"
RESIDENT_MOBILE = "13911119999"
# Signing out would end the resident's session for the rest of the run (tests/test_resident_signin.py).
RESIDENT_LEFT_OUT = ("POST /api/v1/r/auth/signout",)
ACTION_PATH = re.compile(r"^/api/v1/orders/\{order_id\}/(?P<verb>[a-z-]+)$")

pytestmark = pytest.mark.timeout(3600)


def roles_allowed(route: APIRoute) -> frozenset[Role]:
    """The roles a signed-in route lets in: its ``require_roles``, or the order action's policy."""
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        roles = getattr(dependant.call, "roles", None)
        if roles is not None:
            return frozenset(roles)
        pending.extend(dependant.dependencies)
    action = ACTION_PATH.match(route.path_format)
    if action and action["verb"] in Verb.__members__.values():
        return ACTION_ROLES[Verb(action["verb"])]
    return frozenset(Role)


def _schemes(operation: dict) -> set[str]:
    return {name for requirement in operation.get("security", []) for name in requirement}


def operations_for(app: FastAPI, role: Role | None) -> list[str]:
    """``METHOD /path`` of every documented, signed-in operation ``role`` may call (None: a
    resident, the operations that take a resident token)."""
    document = app.openapi()["paths"]
    names = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not route.include_in_schema or route.path in LEFT_OUT:
            continue
        for method in sorted(route.methods):
            operation = document.get(route.path_format, {}).get(method.lower())
            if not operation or not operation.get("security"):
                continue
            name = f"{method} {route.path_format}"
            if RESIDENT_SCHEME in _schemes(operation):
                wanted = role is None and name not in RESIDENT_LEFT_OUT
            else:
                wanted = role is not None and role in roles_allowed(route)
            if wanted:
                names.append(name)
    return names


@dataclass
class Server:
    base: str
    app: FastAPI
    signed_in: dict[Role, tuple[str, int]]  # token and user id
    resident_token: str


def _sign_in(base: str, username: str) -> tuple[str, int]:
    r = httpx.post(
        f"{base}/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD}, timeout=30
    )
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    me = httpx.get(f"{base}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert me.status_code == 200, me.text
    return token, me.json()["id"]


def _resident_sign_in(base: str, app: FastAPI) -> str:
    """A resident's token, got as a resident gets one: a code by SMS (recorded), then the token."""
    sms = recording_sms(app)
    r = httpx.post(f"{base}/api/v1/r/auth/code", json={"phone": RESIDENT_MOBILE}, timeout=30)
    assert r.status_code == 202, r.text
    # The SMS goes out just after the answer: wait for it.
    assert wait_until(lambda: bool(codes_sent(sms, "+86" + RESIDENT_MOBILE)))
    code = codes_sent(sms, "+86" + RESIDENT_MOBILE)[-1]
    r = httpx.post(f"{base}/api/v1/r/auth/token", json={"phone": RESIDENT_MOBILE, "code": code}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fuzz_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server per database (as conftest's ``backend``, for the module: seeding is the slow
    part), every role signed in. No run may edit a signed-in account (tests/support/fuzz_hooks.py)."""
    from dispatch.app import create_app
    from dispatch.settings import Settings

    server_url = None
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        server_url = request.getfixturevalue("postgres_server_url")
        url = fresh_postgres_url(server_url, request.getfixturevalue("postgres_template"))
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            seed_demo(session, now=Clock().now())
            session.commit()
        settings = Settings(
            database_url=url,
            server={"tracking_loop": False, "simulator": False, "docs": True},
            auth={"jwt_secret": "fuzz-secret-fuzz-secret-fuzz-secret-0123"},
        )
        app = create_app(settings)
        with serve_in_thread(app) as base:
            signed_in = {role: _sign_in(base, name) for role, name in ACCOUNTS.items()}
            yield Server(base=base, app=app, signed_in=signed_in, resident_token=_resident_sign_in(base, app))
    finally:
        engine.dispose()
        if server_url is not None:
            drop_postgres_database(server_url, url)


def run_schemathesis(
    server: Server, role: Role | None, operations: list[str] | None, phases: str, report_dir: Path
) -> subprocess.CompletedProcess[str]:
    """One schemathesis run signed in as ``role`` (None: the resident)."""
    token = server.signed_in[role][0] if role is not None else server.resident_token
    command = [
        str(ST),
        "--config-file",
        str(CONFIG),
        "run",
        f"{server.base}/openapi.json",
        "--max-examples",
        str(EXAMPLES),
        "--phases",
        phases,
        "--workers",
        WORKERS,
        "--header",
        f"Authorization: Bearer {token}",
        # Found failures are kept by the test's report, not in a database in the work tree.
        "--generation-database",
        ":memory:",
        "--report",
        "junit",
        "--report-dir",
        str(report_dir),
    ]
    for path in LEFT_OUT:
        command += ["--exclude-path", path]
    for name in operations or ():
        command += ["--include-name", name]
    if SEED:
        command += ["--seed", SEED]
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": str(HOOKS),
        "SANSHE_FUZZ_ACCOUNTS": ",".join(str(uid) for _, uid in server.signed_in.values()),
        "NO_COLOR": "1",
    }
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=3000, cwd=report_dir)


def figures(output: str) -> str:
    """The run in one line: operations tested, test cases generated, failures."""
    tested = re.search(r"Tested:\s*(\d+)", output)
    cases = re.search(r"(\d+) generated, (.*)", output)
    return (
        f"{tested[1] if tested else '?'} operations, "
        f"{cases[1] if cases else '?'} test cases, {cases[2].strip() if cases else '?'}"
    )


@pytest.mark.parametrize("role", list(ACCOUNTS))
def test_the_api_keeps_its_contract(fuzz_server: Server, role: Role, tmp_path: Path) -> None:
    every_phase = role == Role.ADMIN or EVERY_ROLE_EVERY_PHASE
    operations = None if role == Role.ADMIN else operations_for(fuzz_server.app, role)
    assert operations is None or operations, f"{role} may call nothing"
    phases = ALL_PHASES if every_phase else "examples,fuzzing"
    done = run_schemathesis(fuzz_server, role, operations, phases, tmp_path)
    print(f"schemathesis as {role}: {figures(done.stdout)}")
    assert done.returncode == 0, f"{figures(done.stdout)}\n{done.stdout[-20000:]}\n{done.stderr[-5000:]}"
    tested = re.search(r"Tested:\s*(\d+)", done.stdout)
    assert tested and int(tested[1]) >= len(operations or [1]), done.stdout[-3000:]


def test_the_residents_api_keeps_its_contract(fuzz_server: Server, tmp_path: Path) -> None:
    operations = operations_for(fuzz_server.app, None)
    assert len(operations) >= 10, operations
    phases = ALL_PHASES if EVERY_ROLE_EVERY_PHASE else "examples,fuzzing"
    done = run_schemathesis(fuzz_server, None, operations, phases, tmp_path)
    print(f"schemathesis as a resident: {figures(done.stdout)}")
    assert done.returncode == 0, f"{figures(done.stdout)}\n{done.stdout[-20000:]}\n{done.stderr[-5000:]}"
    tested = re.search(r"Tested:\s*(\d+)", done.stdout)
    assert tested and int(tested[1]) >= len(operations), done.stdout[-3000:]
