"""Liveness and readiness: ``/health`` answers while the process lives; ``/health/ready`` only once
the database answers, is at the latest migration and the caches are built."""

from __future__ import annotations

from sqlalchemy import text

from dispatch.db import make_engine
from tests.support.waiting import wait_until


def test_ready_once_the_caches_are_built(client) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert wait_until(lambda: client.get("/health/ready").status_code == 200)
    assert client.get("/health/ready").json() == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok", "caches": "ok"},
    }


def test_not_ready_says_what_is_missing(client, db_url) -> None:
    assert wait_until(lambda: client.get("/health/ready").status_code == 200)
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'an_older_one'"))
    engine.dispose()
    r = client.get("/health/ready")
    assert r.status_code == 503 and r.headers["Retry-After"]
    body = r.json()
    assert body["error"] == "not_ready" and body["checks"]["migrations"].startswith("not at the latest")
    assert body["message"] == "服务尚未就绪：数据库未升级到最新版本"
    assert client.get("/health").status_code == 200  # liveness is not readiness
