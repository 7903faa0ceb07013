"""Test databases: SQLite always, PostgreSQL for real when it can be started.

Every test database is built by the Alembic migrations: once per session into a template (a
SQLite file, a PostgreSQL template database), then copied for each test. ``REQUIRE_POSTGRES=1``
turns "no PostgreSQL" into a failure instead of a skip.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from dispatch import migrate
from dispatch.clock import FrozenClock
from dispatch.db import make_engine, make_sessionmaker
from models import Item, Role
from tests.factories import START, add_provider, load_catalogue, make_small_district, new_order
from tests.support.postgres import TempPostgres
from tests.support.twilio import TWILIO

REQUIRE_POSTGRES = os.environ.get("REQUIRE_POSTGRES", "") not in ("", "0", "false")
_counter = itertools.count()


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    url = os.environ.get("SANSHE_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    server = None
    try:
        server = TempPostgres()
        url = server.start()
    except Exception as exc:  # any failure to start one means "not available here"
        if server is not None:
            server.stop()
        if REQUIRE_POSTGRES:
            pytest.fail(f"REQUIRE_POSTGRES is set but PostgreSQL could not be started: {exc}")
        pytest.skip(f"PostgreSQL not available: {exc}")
    try:
        yield url
    finally:
        server.stop()


def _admin_engine(server_url: str) -> Engine:
    return create_engine(server_url, isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def postgres_template(postgres_server_url: str) -> str:
    """A database migrated to head, used as the template of every PostgreSQL test database."""
    name = f"sanshe_tmpl_{os.getpid()}"
    admin = _admin_engine(postgres_server_url)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = make_url(postgres_server_url).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    return name


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


def fresh_postgres_url(server_url: str, template: str) -> str:
    name = f"sanshe_t{os.getpid()}_{next(_counter)}"
    admin = _admin_engine(server_url)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(server_url: str, url: str) -> None:
    name = make_url(url).database
    admin = _admin_engine(server_url)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database at the latest migration, on the backend under test."""
    if backend == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "test.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    server_url = request.getfixturevalue("postgres_server_url")
    template = request.getfixturevalue("postgres_template")
    url = fresh_postgres_url(server_url, template)
    try:
        yield url
    finally:
        drop_postgres_database(server_url, url)


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh migrated SQLite database, for tests that need not run on both backends."""
    path = tmp_path / "test.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as s:
        yield s


def _marked(request: pytest.FixtureRequest, *names: str) -> bool:
    return any(request.node.get_closest_marker(name) is not None for name in names)


@pytest.fixture
def clock() -> FrozenClock:
    """The business clock of ``manual_dispatch`` and ``twilio`` tests: a Wednesday working morning."""
    return FrozenClock(START)


@pytest.fixture
def twilio_overrides() -> dict[str, object]:
    """``[twilio]`` settings a ``twilio`` test changes (parametrize it)."""
    return {}


@pytest.fixture
def settings(
    db_url: str, request: pytest.FixtureRequest, twilio_overrides: dict[str, object], tmp_path: Path
):
    """The app's settings. Markers choose the variant:

    - ``manual_dispatch``: auto-dispatch off and the frozen ``clock``: the test drives the dispatcher;
    - ``twilio``: the same, with Twilio enabled (webhooks signed as in ``tests.support.twilio``).
    """
    from dispatch.settings import Settings

    extra: dict[str, object] = {}
    if _marked(request, "manual_dispatch", "twilio"):
        extra["dispatch"] = {"auto_dispatch": False}
    if _marked(request, "twilio"):
        extra["twilio"] = {**TWILIO, **twilio_overrides}
    return Settings(
        database_url=db_url,
        server={"tracking_loop": False, "simulator": False, "cache_check_seconds": 0},
        # Throttled sign-ins answered at once (the delay has its own test).
        auth={"jwt_secret": "test-secret-test-secret-test-secret-0123", "throttled_answer_delay_seconds": 0},
        uploads={"dir": str(tmp_path / "uploads")},
        **extra,
    )


@pytest.fixture
def app(settings, request: pytest.FixtureRequest):
    from dispatch.app import create_app

    frozen = _marked(request, "manual_dispatch", "twilio", "frozen_clock")
    return create_app(settings, clock=request.getfixturevalue("clock") if frozen else None)


@pytest.fixture
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c


@pytest.fixture
def resident_sms(client, app):
    """The running app's SMS, recorded from now on: the residents' sign-in codes arrive there."""
    from tests.support.residents import recording_sms

    return recording_sms(app)


@pytest.fixture
def login(client, session_factory, settings):
    """``login(role)`` → Authorization headers for a new user of that role.

    The token is minted directly (argon2 verification is slow on purpose); the sign-in endpoint
    itself is tested in test_auth.py.
    """
    from tests.factories import bearer, make_user

    def _login(role, **kw) -> dict[str, str]:
        with session_factory() as s:
            user = make_user(s, role=role, **kw)
            s.commit()
        return bearer(user, settings)

    return _login


@pytest.fixture
def operator(login) -> dict[str, str]:
    return login(Role.OPERATOR)


@pytest.fixture
def world(session_factory) -> dict[str, int]:
    """The catalogue and the small test district; ids of its areas, places and of item HOME-01."""
    with session_factory() as s:
        load_catalogue(s)
        ids = make_small_district(s)
        ids["HOME-01"] = s.scalar(select(Item.id).where(Item.code == "HOME-01"))
        s.commit()
    return ids


@pytest.fixture
def assigned(client, world, operator, session_factory, login):
    """An order offered to and accepted by a worker; returns (order, worker headers, provider id)."""
    pid = add_provider(session_factory, world, km=0.5, phone="+8613911112222")
    order = new_order(client, operator)
    assert client.post(f"/api/v1/orders/{order['id']}/dispatch", json={}, headers=operator).status_code == 200
    worker = login(Role.WORKER, provider_id=pid)
    assert (
        client.post(f"/api/v1/orders/{order['id']}/accept", headers=worker).json()["order_status"]
        == "accepted"
    )
    return order, worker, pid
