"""The sanshe command: migrate, user add, version, and clear failures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from dispatch.db import make_engine, make_sessionmaker
from models import Provider, ProviderKind, Role, User
from tests.support.cli import run


@pytest.fixture
def fresh_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.delenv("SANSHE_CONFIG", raising=False)
    monkeypatch.setenv("SANSHE_DATABASE_URL", url)
    return url


def test_version(capsys) -> None:
    code, out, _ = run(capsys, "version")
    assert code == 0
    assert out.startswith("sanshe ")


def test_migrate_then_user_add(fresh_db: str, capsys) -> None:
    code, out, _ = run(capsys, "migrate")
    assert code == 0, out
    assert "days added from chinese-calendar" in out
    assert "working-day calendar: official until " in out  # the library's last year, recorded as covered
    with make_sessionmaker(make_engine(fresh_db))() as s:
        from models import CalendarDay

        national_day = s.get(CalendarDay, __import__("datetime").date(2025, 10, 1))
        assert national_day is not None and national_day.is_workday is False
    assert "0 days added" in run(capsys, "migrate")[1]  # idempotent
    code, out, err = run(
        capsys,
        "user",
        "add",
        "wang",
        "--role",
        "operator",
        "--password",
        "long-enough",
        "--extension",
        "1009",
    )
    assert code == 0, err
    assert "wang (operator) created" in out
    sessions = make_sessionmaker(make_engine(fresh_db))
    with sessions() as s:
        user = s.scalar(select(User).where(User.username == "wang"))
        assert user is not None and user.role == Role.OPERATOR and user.extension == "1009"
        assert user.password_hash.startswith("$argon2")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "operator", "--password", "short"], "at least 8"),
        (["--role", "worker", "--password", "long-enough"], "needs --provider"),
        (["--role", "worker", "--password", "long-enough", "--provider", "999"], "no provider with id 999"),
        (
            ["--role", "operator", "--password", "long-enough", "--provider", "1"],
            "does not belong to a provider",
        ),
        (
            ["--role", "org_admin", "--password", "long-enough", "--provider", "1", "--extension", "7197"],
            "cannot have a phone extension",
        ),
    ],
)
def test_user_add_errors(fresh_db: str, capsys, args: list[str], message: str) -> None:
    run(capsys, "migrate")
    sessions = make_sessionmaker(make_engine(fresh_db))
    with sessions() as s:
        s.add(Provider(kind=ProviderKind.ORGANISATION, name="org", lat=30.0, lon=120.0))
        s.commit()
    code, _, err = run(capsys, "user", "add", "li", *args)
    assert code == 1
    assert message in err
    with sessions() as s:
        assert s.scalar(select(User).where(User.username == "li")) is None


def test_duplicate_user_and_worker_for_organisation(fresh_db: str, capsys) -> None:
    run(capsys, "migrate")
    sessions = make_sessionmaker(make_engine(fresh_db))
    with sessions() as s:
        org = Provider(kind=ProviderKind.ORGANISATION, name="org", lat=30.0, lon=120.0)
        s.add(org)
        s.commit()
        org_id = org.id
    assert (
        run(
            capsys,
            "user",
            "add",
            "zhao",
            "--role",
            "org_admin",
            "--password",
            "long-enough",
            "--provider",
            str(org_id),
        )[0]
        == 0
    )
    code, _, err = run(capsys, "user", "add", "zhao", "--role", "supervisor", "--password", "long-enough")
    assert code == 1 and "already exists" in err
    code, _, err = run(
        capsys,
        "user",
        "add",
        "qian",
        "--role",
        "worker",
        "--password",
        "long-enough",
        "--provider",
        str(org_id),
    )
    assert code == 1 and "is an organisation" in err


def test_user_add_reads_the_password_from_standard_input(
    fresh_db: str, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --password the password never appears on the command line: the first line of
    standard input (a terminal would be asked twice, unechoed)."""
    import io

    from dispatch.auth.security import verify_password

    run(capsys, "migrate")
    monkeypatch.setattr(sys, "stdin", io.StringIO("a long secret phrase\nignored\n"))
    code, out, err = run(capsys, "user", "add", "sun", "--role", "supervisor")
    assert code == 0, err
    sessions = make_sessionmaker(make_engine(fresh_db))
    with sessions() as s:
        user = s.scalar(select(User).where(User.username == "sun"))
        assert user is not None and verify_password(user.password_hash, "a long secret phrase")
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code, _, err = run(capsys, "user", "add", "zhou", "--role", "supervisor")
    assert code == 1 and "no password on standard input" in err
    with sessions() as s:
        assert s.scalar(select(User).where(User.username == "zhou")) is None


def test_commands_refuse_an_unmigrated_database(fresh_db: str, capsys) -> None:
    code, _, err = run(capsys, "user", "add", "wang", "--role", "operator", "--password", "long-enough")
    assert code == 1
    assert "sanshe migrate" in err


def test_bad_config_exits_2_naming_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[server]\nport = 0\n")
    monkeypatch.setenv("SANSHE_CONFIG", str(cfg))
    code, _, err = run(capsys, "migrate")
    assert code == 2
    assert "server.port" in err


def test_console_script_is_installed() -> None:
    exe = Path(sys.executable).with_name("sanshe")
    result = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for command in ("serve", "migrate", "seed-demo", "user", "version"):
        assert command in result.stdout


def test_dispatch_batch_command(fresh_db: str, capsys) -> None:
    from datetime import UTC, datetime

    from models import Channel, Item, Order, OrderStatus
    from tests.factories import load_catalogue, make_provider, make_small_district

    run(capsys, "migrate")
    sessions = make_sessionmaker(make_engine(fresh_db))
    with sessions() as s:
        load_catalogue(s)
        make_small_district(s)
        item = s.scalar(select(Item).where(Item.code == "HOME-06"))  # 日常保洁: a normal, home-visit item
        make_provider(s, lat=30.2906, lon=120.1206, item_ids=(item.id,), capacity=2, working_hours={})
        for i in range(3):
            s.add(
                Order(
                    number=f"20250101-000{i}",
                    channel=Channel.PHONE,
                    item_id=item.id,
                    category_id=item.category_id,
                    description="打扫卫生",
                    lat=30.2906 + i * 0.001,
                    lon=120.1206,
                    created_at=datetime(2025, 1, 1, tzinfo=UTC),
                )
            )
        s.commit()
    code, out, err = run(capsys, "dispatch", "batch")
    assert code == 0, err
    assert "3 waiting orders: 2 offered, 1 without a free eligible provider" in out
    with sessions() as s:
        statuses = sorted(s.scalars(select(Order.status)))
        assert statuses.count(OrderStatus.OFFERED) == 2


def test_seed_demo_is_refused_in_production(fresh_db: str, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run(capsys, "migrate")[0] == 0
    monkeypatch.setenv("SANSHE_ENVIRONMENT", "production")
    monkeypatch.setenv("SANSHE_AUTH__JWT_SECRET", "kV3q-9xZr_Lm2Tn8Wb5Yc1Hd7Fg4Jp6S")
    code, out, err = run(capsys, "seed-demo")
    assert code == 1 and "refused" in err and "production" in err, err
    with make_sessionmaker(make_engine(fresh_db))() as s:
        assert s.scalars(select(User)).all() == []  # no demo account was created
    # …and with the demo secret production does not even start.
    monkeypatch.delenv("SANSHE_AUTH__JWT_SECRET")
    code, _, err = run(capsys, "seed-demo")
    assert code == 2 and "auth.jwt_secret" in err, err


def test_serve_refuses_several_workers_on_sqlite(fresh_db, capsys) -> None:
    code, _, err = run(capsys, "serve", "--workers", "2")
    assert code == 2
    assert "SQLite" in err and "PostgreSQL" in err and "一个进程写入" in err


def test_uploads_sweep_command(
    fresh_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    import os
    import time

    root = tmp_path / "uploads"
    monkeypatch.setenv("SANSHE_UPLOADS__DIR", str(root))
    assert run(capsys, "migrate")[0] == 0
    orphan = root / "7" / "0123456789abcdef0123456789abcdef.jpg"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"\xff\xd8\xff")
    old = time.time() - 3 * 3600
    os.utime(orphan, (old, old))

    code, out, err = run(capsys, "uploads", "sweep", "--dry-run")
    assert code == 0 and out.split() == ["7/0123456789abcdef0123456789abcdef.jpg"]
    assert "would remove 1 orphan file(s)" in err and orphan.exists()
    code, out, err = run(capsys, "uploads", "sweep", "--older-than-minutes", "240")
    assert code == 0 and "removed 0" in err and orphan.exists()  # not old enough by that measure
    code, out, err = run(capsys, "uploads", "sweep")
    assert code == 0 and "removed 1" in err and not orphan.exists()
