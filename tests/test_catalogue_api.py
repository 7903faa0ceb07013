"""Catalogue: reading, suggesting, admin edits (which the suggester picks up), CSV import/export."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from dispatch.catalogue.csvio import CatalogueFormatError, format_catalogue, parse_catalogue, read_catalogue
from dispatch.cli import main
from models import Category, Item, Role
from tests.factories import load_catalogue


@pytest.fixture
def catalogue(session_factory) -> None:
    with session_factory() as s:
        load_catalogue(s)
        s.commit()


def test_catalogue_lists_12_categories_and_120_items(client, catalogue, login) -> None:
    body = client.get("/api/v1/catalogue", headers=login(Role.WORKER)).json()
    assert len(body["categories"]) == 12
    assert body["total"] == 120 and len(body["items"]) == 120
    lock = next(i for i in body["items"] if i["code"] == "HOME-04")
    assert lock["sla_class"] == "urgent" and lock["home_visit"] is True and "身份" in lock["notice"]
    assert "开锁" in lock["keywords"]


def test_suggest_contract(client, catalogue, login) -> None:
    headers = login(Role.OPERATOR)
    r = client.get("/api/v1/catalogue/suggest", params={"q": "我家厨房水管爆了", "limit": 3}, headers=headers)
    assert r.status_code == 200
    suggestions = r.json()["suggestions"]
    assert 1 <= len(suggestions) <= 3
    assert suggestions[0]["item_code"] == "HOME-01"
    assert set(suggestions[0]) == {"item_code", "category_code", "name", "score"}
    scores = [s["score"] for s in suggestions]
    assert scores == sorted(scores, reverse=True)
    assert client.get(
        "/api/v1/catalogue/suggest", params={"q": "今天天气真不错"}, headers=headers
    ).json() == {"suggestions": []}
    assert client.get("/api/v1/catalogue/suggest", params={"q": ""}, headers=headers).status_code == 422
    assert (
        client.get("/api/v1/catalogue/suggest", params={"q": "x", "limit": 0}, headers=headers).status_code
        == 422
    )
    assert client.get("/api/v1/catalogue/suggest", params={"q": "漏水"}).status_code == 401


def test_admin_edits_keywords_and_the_suggester_follows(client, catalogue, login) -> None:
    admin = login(Role.ADMIN)
    query = {"q": "蜂窝煤送上门"}
    before = client.get("/api/v1/catalogue/suggest", params=query, headers=admin).json()["suggestions"]
    assert not before or before[0]["item_code"] != "ERR-03"
    r = client.patch("/api/v1/catalogue/items/ERR-03", json={"keywords": ["蜂窝煤", "送煤"]}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["keywords"] == ["蜂窝煤", "送煤"]
    after = client.get("/api/v1/catalogue/suggest", params=query, headers=admin).json()["suggestions"]
    assert after[0]["item_code"] == "ERR-03"


def test_admin_creates_category_and_item(client, catalogue, login, session_factory) -> None:
    admin = login(Role.ADMIN)
    r = client.post(
        "/api/v1/catalogue/categories", json={"code": "PET", "name_zh": "宠物服务"}, headers=admin
    )
    assert r.status_code == 201
    item = {
        "code": "PET-01",
        "category_code": "PET",
        "name_zh": "宠物寄养",
        "sla_class": "normal",
        "keywords": ["猫", "狗", "寄养"],
    }
    assert client.post("/api/v1/catalogue/items", json=item, headers=admin).status_code == 201
    assert client.post("/api/v1/catalogue/items", json=item, headers=admin).status_code == 409
    assert client.get("/api/v1/catalogue", headers=admin).json()["total"] == 121


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/api/v1/catalogue/items/HOME-01", {"sla_class": "whenever"}, 422),
        ("/api/v1/catalogue/items/HOME-01", {"keywords": ["a|b"]}, 422),
        ("/api/v1/catalogue/items/HOME-01", {"colour": "red"}, 422),
        ("/api/v1/catalogue/items/NOPE-1", {"name_zh": "x"}, 404),
        ("/api/v1/catalogue/categories/NOPE", {"name_zh": "x"}, 404),
    ],
)
def test_bad_edits_change_nothing(client, catalogue, login, session_factory, path, body, status) -> None:
    r = client.patch(path, json=body, headers=login(Role.ADMIN))
    assert r.status_code == status
    assert set(r.json()) == {"error", "detail", "message"}
    with session_factory() as s:
        assert s.scalar(select(Item).where(Item.code == "HOME-01")).sla_class_code == "priority"


def test_only_admins_edit(client, catalogue, login) -> None:
    for role in (Role.SUPERVISOR, Role.OPERATOR, Role.WORKER):
        r = client.patch("/api/v1/catalogue/items/HOME-01", json={"name_zh": "x"}, headers=login(role))
        assert r.status_code == 403


def test_csv_round_trip_and_errors(tmp_path: Path) -> None:
    rows = read_catalogue()
    assert len(rows) == 120
    assert parse_catalogue(format_catalogue(rows)) == rows
    with pytest.raises(CatalogueFormatError, match="missing column"):
        parse_catalogue("code,name\nA,B\n")
    bad = format_catalogue(rows).replace(",priority,", ",sometimes,", 1)
    with pytest.raises(CatalogueFormatError, match="line 2: sla_class"):
        parse_catalogue(bad)
    dup = format_catalogue(rows[:2] + rows[:1])
    with pytest.raises(CatalogueFormatError, match="appears twice"):
        parse_catalogue(dup)


def test_cli_import_export(sqlite_url: str, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.delenv("SANSHE_CONFIG", raising=False)
    monkeypatch.setenv("SANSHE_DATABASE_URL", sqlite_url)
    source = tmp_path / "cat.csv"
    source.write_text(format_catalogue(read_catalogue()), encoding="utf-8")
    main(["catalogue", "import", str(source)])
    assert "items: 120 created" in capsys.readouterr().out
    main(["catalogue", "import", str(source)])
    assert "items: 0 created, 0 updated" in capsys.readouterr().out
    edited = source.read_text(encoding="utf-8").replace("水电维修", "水电维修（含上门）", 1)
    source.write_text(edited, encoding="utf-8")
    main(["catalogue", "import", str(source)])
    assert "items: 0 created, 1 updated" in capsys.readouterr().out
    out = tmp_path / "out.csv"
    main(["catalogue", "export", str(out)])
    exported = parse_catalogue(out.read_text(encoding="utf-8"))
    assert len(exported) == 120 and exported[0].item_zh == "水电维修（含上门）"
    bad = tmp_path / "bad.csv"
    bad.write_text("nonsense\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        main(["catalogue", "import", str(bad)])
    assert exit_info.value.code == 1
    assert "missing column" in capsys.readouterr().err
    from dispatch.db import make_engine, make_sessionmaker

    with make_sessionmaker(make_engine(sqlite_url))() as s:
        assert s.scalar(select(func.count()).select_from(Category)) == 12


def test_cli_eval_intake(tmp_path: Path, capsys) -> None:
    data = tmp_path / "eval.csv"
    data.write_text(
        "text,acceptable\n我家厨房水管爆了,HOME-01\n想咨询一下低保怎么申请,GOV-02|ASSIST-01\n",
        encoding="utf-8",
    )
    main(["eval-intake", str(data)])
    out = capsys.readouterr().out
    assert "top-1" in out and "top-3" in out and "categor" in out.lower()


def test_an_inactive_category_is_listed_only_on_request_and_says_so(client, catalogue, login) -> None:
    admin = login(Role.ADMIN)
    r = client.patch("/api/v1/catalogue/categories/HOME", json={"active": False}, headers=admin)
    assert r.status_code == 200, r.text
    shown = client.get("/api/v1/catalogue", headers=admin).json()["categories"]
    assert "HOME" not in {c["code"] for c in shown} and all(c["active"] for c in shown)
    everything = client.get("/api/v1/catalogue", params={"include_inactive": "true"}, headers=admin).json()
    assert {c["code"]: c["active"] for c in everything["categories"]}["HOME"] is False
    assert len(everything["categories"]) == 12


def test_suggest_explains_what_matched(client, login, session_factory) -> None:
    with session_factory() as s:
        load_catalogue(s)
        s.commit()
    headers = login(Role.ADMIN)
    plain = client.get("/api/v1/catalogue/suggest", params={"q": "厨房水管漏水了"}, headers=headers).json()
    assert "why" not in plain["suggestions"][0]  # only when asked: the contract keys otherwise
    body = client.get(
        "/api/v1/catalogue/suggest", params={"q": "厨房水管漏水了", "explain": "true"}, headers=headers
    ).json()
    top = body["suggestions"][0]
    assert top["item_code"] == plain["suggestions"][0]["item_code"]
    assert top["why"], top
    assert all(r["weight"] > 0 and r["phrase"] for r in top["why"])
    assert any("水管" in r["matched"] for r in top["why"])
    assert [r["weight"] for r in top["why"]] == sorted((r["weight"] for r in top["why"]), reverse=True)
