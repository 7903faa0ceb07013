"""Reports in Excel (opened with openpyxl) and the stats CSV for people (``layout=zh``)."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from dispatch.reports.xlsx import MEDIA_TYPE
from models import Order, Role
from tests.test_league import build_league_world


@pytest.fixture
def league_world(session_factory) -> dict[str, int]:
    return build_league_world(session_factory)


NOVEMBER = {"from": "2026-11-01T00:00:00+08:00", "to": "2026-12-01T00:00:00+08:00"}


def workbook(client, login, path: str, role: Role = Role.SUPERVISOR, **params):
    r = client.get(path, params=params, headers=login(role))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == MEDIA_TYPE and "attachment" in r.headers["content-disposition"]
    return load_workbook(io.BytesIO(r.content))


def header(ws) -> list[str]:
    return [c.value for c in ws[1]]


def column(ws, title: str):
    return header(ws).index(title) + 1


def test_the_summary_workbook_has_a_sheet_per_grouping(client, login, league_world) -> None:
    book = workbook(client, login, "/api/v1/stats/export.xlsx", **NOVEMBER)
    assert book.sheetnames == ["总体", "按类别", "按社区", "按服务方", "按日"]
    summary = client.get("/api/v1/stats/summary", params=NOVEMBER, headers=login(Role.SUPERVISOR)).json()
    overall = book["总体"]
    assert overall.freeze_panes == "A2" and header(overall)[:3] == ["统计开始", "统计结束", "受理工单"]
    assert (
        overall.cell(2, 1).value == datetime(2026, 11, 1)
        and overall.cell(2, 1).number_format == "yyyy-mm-dd hh:mm"
    )
    closure = overall.cell(2, column(overall, "办结率"))
    assert closure.value == pytest.approx(summary["closure_rate"]) and closure.number_format == "0.0%"
    assert overall.cell(2, column(overall, "受理工单")).value == summary["received"] == 8
    minutes = overall.cell(2, column(overall, "平均办结用时（分钟）"))
    assert (
        minutes.value == pytest.approx(summary["mean_minutes_to_complete"]) and minutes.number_format == "0"
    )
    assert overall.cell(2, column(overall, "平均评价星级")).number_format == "0.0"
    assert "接通率" in header(overall) and "接通率" not in header(book["按服务方"])
    providers = book["按服务方"]
    assert header(providers)[:2] == ["服务方编号", "服务方"]
    names = [providers.cell(r, 2).value for r in range(2, providers.max_row + 1)]
    assert "安心家政" in names and names[-1] == "（无）"  # the order no one holds
    days = book["按日"]
    assert days.max_row == 31 and days.cell(2, 1).value == datetime(2026, 11, 1)
    assert days.cell(2, 1).number_format == "yyyy-mm-dd"
    one = workbook(client, login, "/api/v1/stats/export.xlsx", group_by="category", **NOVEMBER)
    assert one.sheetnames == ["按类别"] and one["按类别"].cell(2, 2).value == "生活服务"


def test_the_league_workbook(client, login, league_world) -> None:
    book = workbook(client, login, "/api/v1/stats/providers.xlsx", period="2026-11", kind="worker")
    ws = book[book.sheetnames[0]]
    assert book.sheetnames == ["社工星级评价 2026-11", "全区平均"] and ws.freeze_panes == "A2"
    assert header(ws)[:3] == ["排名", "名称", "所属机构"] and "淘汰预警" in header(ws)
    rows = {ws.cell(r, 2).value: r for r in range(2, ws.max_row + 1)}
    assert list(rows) == ["李师傅", "张师傅", "王阿姨"]
    zhang = rows["张师傅"]
    assert (
        ws.cell(zhang, column(ws, "淘汰预警")).value == "是"
        and ws.cell(zhang, column(ws, "星级")).value == 2.2
    )
    rate = ws.cell(zhang, column(ws, "退单率"))
    assert rate.value == pytest.approx(0.5) and rate.number_format == "0.0%"
    assert ws.cell(rows["李师傅"], column(ws, "所属机构")).value == "安心家政"
    averages = book["全区平均"]
    assert averages.cell(2, column(averages, "星级")).value == 2.6
    mine = workbook(
        client,
        login,
        "/api/v1/stats/providers.xlsx",
        Role.ORG_ADMIN,
        period="2026-11",
        kind="organisation",
    )
    assert mine[mine.sheetnames[0]].max_row == 1  # an admin of no organisation: the header only
    r = client.get("/api/v1/stats/providers.xlsx", params={"period": "2026-11"}, headers=login(Role.OPERATOR))
    assert r.status_code == 403


def test_the_orders_workbook_is_masked_and_formula_safe(client, login, league_world, session_factory) -> None:
    with session_factory() as s:
        order = s.scalars(select(Order).where(Order.number == "L0000")).one()
        order.description = '=HYPERLINK("http://example.com","点这里") 联系 13912345678'
        s.commit()
    book = workbook(client, login, "/api/v1/exports/orders.xlsx", **NOVEMBER)
    ws = book["工单"]
    assert ws.freeze_panes == "A2" and header(ws)[:3] == ["工单编号", "受理时间", "状态"]
    first = {title: ws.cell(2, n).value for n, title in enumerate(header(ws), start=1)}
    assert first["工单编号"] == "L0000" and first["状态"] == "已归档" and first["渠道"] == "电话"
    assert first["受理时间"] == datetime(2026, 11, 2, 10, 0)
    assert ws.cell(2, column(ws, "受理时间")).number_format == "yyyy-mm-dd hh:mm"
    cell = ws.cell(2, column(ws, "诉求内容"))
    assert cell.data_type == "s" and cell.quotePrefix and "13912345678" not in cell.value
    assert ws.max_row == 1 + 8
    for role in (Role.OPERATOR, Role.WORKER, Role.ORG_ADMIN):
        assert client.get("/api/v1/exports/orders.xlsx", headers=login(role)).status_code == 403
    r = client.get("/api/v1/exports/orders.xlsx", params={"personal": "true"}, headers=login(Role.ADMIN))
    assert r.status_code == 400 and r.json()["error"] == "reason_required"


def test_the_stats_csv_for_people(client, login, league_world) -> None:
    headers = login(Role.SUPERVISOR)
    params = NOVEMBER | {"group_by": "provider", "layout": "zh"}
    r = client.get("/api/v1/stats/export.csv", params=params, headers=headers)
    assert r.status_code == 200 and r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    summary = client.get(
        "/api/v1/stats/summary", params=NOVEMBER | {"group_by": "provider"}, headers=headers
    ).json()
    want = {g["label"]: g for g in summary["groups"]}
    row = next(r for r in rows if r["服务方"] == "李师傅")
    assert row["服务方编号"] == str(want["李师傅"]["key"])
    assert row["办结率"] == f"{want['李师傅']['closure_rate'] * 100:.1f}%" and row["按时办结率"] == "50.0%"
    assert row["平均评价星级"] == f"{round(want['李师傅']['avg_rating'], 2)}" and row["签收次数"] == "2"
    assert float(row["平均办结用时（分钟）"]) == round(want["李师傅"]["mean_minutes_to_complete"], 1)
    assert row["满意率"] == "33.3%"
    overall = client.get("/api/v1/stats/export.csv", params=NOVEMBER, headers=headers)  # zh by default
    (only,) = list(csv.DictReader(io.StringIO(overall.content.decode("utf-8-sig"))))
    assert only["统计开始"] == "2026-11-01T00:00:00+08:00" and only["接通率"] == ""
    bad = client.get("/api/v1/stats/export.csv", params={"layout": "pretty"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["message"].startswith("格式：")


def test_the_orders_csv_for_people_and_for_scripts(client, login, league_world, session_factory) -> None:
    """orders.csv is for people by default (the workbook's Chinese headers and values, local
    times to the minute) and keeps its old layout for scripts (layout=raw); both masked alike."""
    with session_factory() as s:
        order = s.scalars(select(Order).where(Order.number == "L0000")).one()
        order.description = "=1+1 联系 13912345678"
        s.commit()
    headers = login(Role.SUPERVISOR)
    r = client.get("/api/v1/exports/orders.csv", params=NOVEMBER, headers=headers)
    assert r.status_code == 200 and r.content.startswith(b"\xef\xbb\xbf")
    people = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    raw = client.get("/api/v1/exports/orders.csv", params=NOVEMBER | {"layout": "raw"}, headers=headers)
    scripts = list(csv.DictReader(io.StringIO(raw.content.decode("utf-8-sig"))))
    assert len(people) == len(scripts) == 8
    assert list(people[0])[:4] == ["工单编号", "受理时间", "状态", "渠道"]
    first, same = people[0], scripts[0]
    assert (first["工单编号"], first["受理时间"], first["状态"], first["渠道"]) == (
        "L0000",
        "2026-11-02 10:00",
        "已归档",
        "电话",
    )
    assert (same["number"], same["created_at"], same["status"], same["channel"]) == (
        "L0000",
        "2026-11-02T10:00:00+08:00",
        "closed",
        "phone",
    )
    assert first["诉求内容"] == same["description"] and first["诉求内容"].startswith("'=")  # never a formula
    assert "13912345678" not in r.text + raw.text
    assert first["服务方"] == same["provider"] and first["办结时间"] == (same["completed_at"] or "")[
        :16
    ].replace("T", " ")


def csv_rows(client, headers, path: str, **params) -> list[dict[str, str]]:
    r = client.get(path, params=params, headers=headers)
    assert r.status_code == 200, r.text
    assert r.content.startswith(b"\xef\xbb\xbf") and r.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))


def test_the_league_csv_for_people_and_for_scripts(client, login, league_world) -> None:
    """providers.csv: the rows of /providers the caller may see; for people with the workbook's
    headers, percentages, 是/否 and the district's averages last; for scripts the API's fields."""
    headers = login(Role.SUPERVISOR)
    api = client.get(
        "/api/v1/stats/providers", params={"period": "2026-11", "kind": "worker"}, headers=headers
    )
    items = {r["name"]: r for r in api.json()["items"]}
    people = csv_rows(client, headers, "/api/v1/stats/providers.csv", period="2026-11", kind="worker")
    assert [r["名称"] for r in people] == ["李师傅", "张师傅", "王阿姨", "全区平均"]
    zhang = next(r for r in people if r["名称"] == "张师傅")
    assert zhang["淘汰预警"] == "是" and zhang["星级"] == "2.2" and zhang["退单率"] == "50.0%"
    assert zhang["排名"] == str(items["张师傅"]["rank"]) and zhang["所属机构"] == (
        items["张师傅"]["organisation_name"] or ""
    )
    average = people[-1]
    assert average["星级"] == "2.6" and average["排名"] == "" and average["淘汰预警"] == ""
    raw = csv_rows(
        client, headers, "/api/v1/stats/providers.csv", period="2026-11", kind="worker", layout="raw"
    )
    assert [r["name"] for r in raw] == ["李师傅", "张师傅", "王阿姨"]
    row = next(r for r in raw if r["name"] == "张师傅")
    assert row["provider_id"] == str(items["张师傅"]["provider_id"]) and row["elimination_warning"] == "true"
    assert float(row["return_rate"]) == items["张师傅"]["return_rate"]
    # An organisation admin: their own workers and the averages, nobody else's figures.
    mine = csv_rows(
        client,
        login(Role.ORG_ADMIN, provider_id=league_world["A"]),
        "/api/v1/stats/providers.csv",
        period="2026-11",
        kind="worker",
    )
    assert [r["名称"] for r in mine] == ["李师傅", "王阿姨", "全区平均"] and mine[-1]["星级"] == "2.6"
    for role in (Role.OPERATOR, Role.WORKER):
        r = client.get("/api/v1/stats/providers.csv", params={"period": "2026-11"}, headers=login(role))
        assert r.status_code == 403
    bad = client.get("/api/v1/stats/providers.csv", params={"period": "2026-13"}, headers=headers)
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_period"
