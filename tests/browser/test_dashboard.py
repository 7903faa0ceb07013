"""The 督办 dashboard in a real browser: ECharts draws every chart (offline, under the CSP, no
JavaScript error), each 表格 shows the API's figures, a click on a bar opens the orders behind
it, the map shows the communities with nothing fetched from elsewhere, the league table for
supervisors and for an organisation admin (their own row only), and the monthly report. The
screenshots the README shows are taken here (docs/screenshots, 1280×800)."""

from __future__ import annotations

import csv
import io
import math
import re
import struct
import time
import zlib
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def to_top(locator) -> None:
    """Scroll so the element starts just below the console's fixed top bar (for a screenshot)."""
    locator.evaluate("e => { e.scrollIntoView({block: 'start'}); window.scrollBy(0, -60); }")


CHARTS = ("rates", "durations", "categories", "hourly", "map")


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


def open_dashboard(page: Page, sign_in, username: str = "supervisor") -> tuple[dict[str, str], object]:
    """Sign in, open 督办 and wait for every chart; the period the dashboard shows."""
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(username, "#/stats")
    board = page.locator(".dashboard")
    for name in CHARTS:
        card = board.locator(f'.chart-card[data-chart="{name}"]')
        expect(card).to_have_attribute("data-ready", "true")
        expect(card.locator("canvas").first).to_be_attached()
    loaded = board.get_attribute("data-loaded")
    assert loaded
    start, end, grain = loaded.split("/")
    return {"from": start, "to": end, "group_by": grain}, board


def rows_of(table) -> list[list[str]]:
    return [
        [c.strip() for c in r.locator("th, td").all_inner_texts()] for r in table.locator("tbody tr").all()
    ]


def test_charts_render_and_tables_hold_the_api_figures(page: Page, sign_in, live_server: LiveServer) -> None:
    period, board = open_dashboard(page, sign_in)
    to_top(page.locator(".dashboard-card h2"))
    page.screenshot(path=str(SHOTS / "dashboard.png"))
    rates = board.locator('.chart-card[data-chart="rates"]')
    # A canvas with something drawn on it (not blank).
    drawn = rates.locator("canvas").first.evaluate(
        "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " for (let i = 3; i < d.length; i += 4) if (d[i]) return true; return false; }"
    )
    assert drawn
    rates.get_by_role("button", name="表格").click()
    table = rates.locator(".chart-data table")
    expect(table).to_be_visible()
    expect(rates.locator(".chart")).to_be_hidden()
    summary = live_server.api("supervisor", "GET", "/api/v1/stats/summary", params=period)
    expected = [
        [g["label"] or str(g["key"])]
        + [pct(g[k]) for k in ("closure_rate", "on_time_rate", "sign_on_time_rate", "satisfaction_rate")]
        + [f"{g['received']:,}"]
        for g in summary["groups"]
    ]
    assert rows_of(table) == expected
    rates.get_by_role("button", name="图表").click()
    expect(rates.locator(".chart")).to_be_visible()

    hourly = live_server.api(
        "supervisor", "GET", "/api/v1/stats/calls/hourly", params={"from": period["from"], "to": period["to"]}
    )
    card = board.locator('.chart-card[data-chart="hourly"]')
    card.get_by_role("button", name="表格").click()
    shown = rows_of(card.locator(".chart-data table"))
    assert [r[0] for r in shown] == [f"{h:02d}:00" for h in range(24)]
    assert [r[1:] for r in shown] == [
        [f"{h[k]:,}" for k in ("answered", "abandoned", "unanswered", "inbound")] for h in hourly["hours"]
    ]
    targets = live_server.api("supervisor", "GET", "/api/v1/stats/targets")
    assert targets["closure_rate"] == 0.98


def test_a_click_on_a_bar_opens_its_orders(page: Page, sign_in, live_server: LiveServer) -> None:
    period, board = open_dashboard(page, sign_in)
    by_category = live_server.api(
        "supervisor",
        "GET",
        "/api/v1/stats/summary",
        params={"from": period["from"], "to": period["to"], "group_by": "category"},
    )
    busiest = sorted((g for g in by_category["groups"] if g["received"]), key=lambda g: -g["received"])
    assert busiest, "the demo has orders this month"
    top = busiest[0]
    card = board.locator('.chart-card[data-chart="categories"]')
    chart = card.locator(".chart")
    chart.scroll_into_view_if_needed()
    # The middle of the busiest category's 受理量 bar (series 0, first row: busiest first), as
    # ECharts laid it out, asked of the chart through the module the console loaded.
    x, y = chart.evaluate(
        """async (el) => {
            const url = performance.getEntriesByType("resource").map((e) => e.name)
                .find((name) => name.endsWith("/vendor/echarts/echarts.esm.min.js"));
            const chart = (await import(url)).getInstanceByDom(el);
            const bar = chart.getModel().getSeriesByIndex(0).getData().getItemLayout(0);
            const box = el.getBoundingClientRect();
            return [box.left + bar.x + bar.width / 2, box.top + bar.y + bar.height / 2];
        }"""
    )
    page.mouse.click(x, y)
    expect(page.locator("section.view.orders")).to_be_visible()
    query = parse_qs(urlparse(page.url.replace("#/orders", "orders")).query)
    assert query["category"] == [top["key"]]
    assert query["from"] == [period["from"]] and query["to"] == [period["to"]]
    orders = page.locator("section.view.orders")
    expect(orders.locator(".scope-chips .chip")).to_have_count(2)
    expect(orders.locator(".pager .muted")).to_have_text(re.compile(rf"共 {top['received']} 条$"))
    listed = live_server.api(
        "supervisor",
        "GET",
        "/api/v1/orders",
        params={"category": top["key"], "from": period["from"], "to": period["to"], "limit": 1},
    )
    assert listed["total"] == top["received"]
    # Removing the category chip widens the list again.
    orders.locator('.chip[data-scope="category"] button').click()
    expect(orders.locator(".scope-chips .chip")).to_have_count(1)
    assert "category=" not in page.url


def test_the_map_shows_the_communities_offline(page: Page, sign_in, live_server: LiveServer) -> None:
    elsewhere: list[str] = []

    def only_here(route) -> None:
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_here)
    period, board = open_dashboard(page, sign_in)
    points = live_server.api(
        "supervisor", "GET", "/api/v1/stats/map", params={"from": period["from"], "to": period["to"]}
    )["communities"]
    assert points
    card = board.locator('.chart-card[data-chart="map"]')
    to_top(card)
    page.screenshot(path=str(SHOTS / "map.png"))
    card.get_by_role("button", name="表格").click()
    shown = rows_of(card.locator(".chart-data table"))
    assert [r[:3] for r in shown] == [[p["name"], str(p["open"]), str(p["overdue"])] for p in points]
    assert elsewhere == []
    # A community's row (as its point) opens its open orders.
    busiest = max(points, key=lambda p: p["open"])
    card.locator(".chart-data tbody tr").nth(points.index(busiest)).click()
    expect(page.locator("section.view.orders")).to_be_visible()
    assert f"community_id={busiest['id']}" in page.url and "live=true" in page.url
    chip = page.locator('section.view.orders .chip[data-scope="community_id"]')
    expect(chip).to_contain_text(busiest["name"])
    expect(page.locator("section.view.orders .pager .muted")).to_have_text(
        re.compile(rf"共 {busiest['open']} 条$")
    )


def png(rgb: tuple[int, int, int]) -> bytes:
    """A one-pixel PNG of one colour (a map tile, stretched by the chart)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes([0, *rgb])))
        + chunk(b"IEND", b"")
    )


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The Web Mercator (slippy map) tile holding a point at zoom z."""
    r = math.radians(lat)
    return int((lon + 180) / 360 * 2**z), int(
        (1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * 2**z
    )


def test_the_map_draws_tiles_when_a_tile_url_is_set(page: Page, sign_in, live_server: LiveServer) -> None:
    """With ``[dashboard] tile_url`` set (the API's side is in test_dashboard_api), the map asks
    this server for the Web Mercator tiles under every community, at one zoom, and shows the
    attribution. The tile server is the edge faked here: the targets answer gets a tile_url and
    the tiles are answered with a PNG."""
    asked: list[str] = []

    def with_tiles(route) -> None:
        response = route.fetch()
        body = response.json() | {"tile_url": "/tiles/{z}/{x}/{y}.png", "tile_attribution": "底图 © 测试图源"}
        route.fulfill(response=response, json=body)

    def tile(route) -> None:
        asked.append(route.request.url)
        route.fulfill(status=200, content_type="image/png", body=png((200, 220, 240)))

    page.route("**/api/v1/stats/targets", with_tiles)
    page.route(f"{live_server.url}/tiles/**", tile)
    period, board = open_dashboard(page, sign_in)
    expect(board.locator(".map-attribution")).to_have_text("底图 © 测试图源")
    points = live_server.api(
        "supervisor", "GET", "/api/v1/stats/map", params={"from": period["from"], "to": period["to"]}
    )["communities"]
    assert points

    def tiles() -> set[tuple[int, ...]]:
        return {
            tuple(int(n) for n in re.search(r"/tiles/(\d+)/(\d+)/(\d+)\.png$", u).groups()) for u in asked
        }

    def covered(found: set[tuple[int, ...]]) -> bool:
        zooms = {z for z, _, _ in found}
        if len(zooms) != 1:
            return False
        z = next(iter(zooms))
        return {(z, *tile_of(p["lon"], p["lat"], z)) for p in points} <= found

    deadline = time.monotonic() + 30  # the tiles are asked for once the chart has drawn
    while not covered(tiles()) and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    found = tiles()
    assert covered(found), (found, [(p["lon"], p["lat"]) for p in points])
    assert 1 <= next(iter(found))[0] <= 18
    assert len(found) <= 64  # the district's tiles, not the world's


def test_league_table_for_supervisors(page: Page, sign_in, live_server: LiveServer) -> None:
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in("admin", "#/stats")
    screen = page.locator(".league-screen")
    table = screen.locator("table.league-table")
    expect(table).to_be_visible()
    period = screen.locator(".league").get_attribute("data-period")
    data = live_server.api(
        "admin",
        "GET",
        "/api/v1/stats/providers",
        params={"period": period, "kind": "organisation", "limit": 500},
    )
    expect(table.locator("tbody tr")).to_have_count(data["total"])
    expect(table.locator("tfoot tr.averages th")).to_have_text("全区平均")
    for n, row in enumerate(data["items"]):
        tr = table.locator("tbody tr").nth(n)
        expect(tr.locator("th")).to_contain_text(row["name"])
        expect(tr.locator(".badge.elimination")).to_have_count(1 if row["elimination_warning"] else 0)
        expect(tr.locator(".badge.suspended")).to_have_count(1 if row["suspended"] else 0)
    screen.get_by_label("评价对象").select_option("worker")
    workers = live_server.api(
        "admin", "GET", "/api/v1/stats/providers", params={"period": period, "kind": "worker", "limit": 500}
    )
    expect(table.locator("tbody tr")).to_have_count(workers["total"])
    # Months are chosen from a list in Chinese (not the browser's own month box).
    month = screen.get_by_label("月份")
    year, mm = period.split("-")
    expect(month.locator("option:checked")).to_have_text(f"{year}年{int(mm)}月")
    earlier = month.locator("option").nth(3).get_attribute("value")
    month.select_option(earlier)
    screen.get_by_role("button", name="查询").click()
    expect(screen.locator(".league")).to_have_attribute("data-period", earlier)
    screen.get_by_label("评价周期").select_option("quarter")
    expect(screen.locator(".league")).to_have_attribute("data-period", re.compile(r"^\d{4}-Q[1-4]$"))
    to_top(screen)
    page.screenshot(path=str(SHOTS / "league.png"))


def test_an_organisation_admin_sees_only_their_own_row(page: Page, sign_in, live_server: LiveServer) -> None:
    sign_in("orgadmin", "#/league")
    view = page.locator("section.view.league-view")
    expect(view.locator(".league table.league-table")).to_be_visible()
    period = view.locator(".league").get_attribute("data-period")
    mine = live_server.api(
        "orgadmin", "GET", "/api/v1/stats/providers", params={"period": period, "kind": "organisation"}
    )
    everyone = live_server.api(
        "admin", "GET", "/api/v1/stats/providers", params={"period": period, "kind": "organisation"}
    )
    assert mine["total"] <= 1 and mine["averages"] == everyone["averages"]
    rows = view.locator("tbody tr")
    expect(rows).to_have_count(mine["total"])
    if mine["items"]:
        expect(rows.first.locator("th")).to_contain_text(mine["items"][0]["name"])
    others = {r["name"] for r in everyone["items"]} - {r["name"] for r in mine["items"]}
    for name in others:
        expect(view.locator("tbody")).not_to_contain_text(name)
    expect(view.locator("tfoot tr.averages")).to_be_visible()
    expect(view.get_by_role("button", name="导出排名 XLSX")).to_have_count(0)


def test_monthly_report(page: Page, sign_in, live_server: LiveServer) -> None:
    _, board = open_dashboard(page, sign_in)
    board.get_by_role("button", name="月报").click()
    report = page.locator("section.report")
    expect(report).to_have_attribute("data-ready", re.compile(r"^\d{4}-\d{2}$"))
    expect(page.locator("#shell")).to_be_hidden()
    images = report.locator(".report-chart img")
    expect(images).to_have_count(5)
    for src in images.evaluate_all("imgs => imgs.map(i => i.src)"):
        assert src.startswith("data:image/png;base64,")
    month = report.get_attribute("data-ready")
    year, mm = month.split("-")
    expect(report.locator("h1")).to_have_text(f"三社联动服务月报 · {year}年{int(mm)}月")
    expect(report.get_by_label("月份").locator("option:checked")).to_have_text(f"{year}年{int(mm)}月")
    expect(report.locator('.report-kpis tr[data-metric="closure_rate"] td').nth(1)).to_have_text("98.0 %")
    expect(report.locator("table.league-table, .report-section .error").first).to_be_visible()
    assert report.locator(".report-section.page-break").count() == 3
    page.emulate_media(media="print")
    expect(report.locator(".report-toolbar")).to_be_hidden()
    page.emulate_media(media="screen")
    page.screenshot(path=str(SHOTS / "report.png"))
    report.get_by_role("button", name="关闭").click()
    expect(page.locator("#shell")).to_be_visible()


def test_reports_download_as_excel_and_csv(page: Page, sign_in, live_server: LiveServer) -> None:
    """督办's downloads: the summary as a workbook with a sheet per grouping, the period's orders
    as a workbook and as the CSV for people, each opened as a user's program would (openpyxl)."""
    from openpyxl import load_workbook

    def opened(saved):
        assert saved.suggested_filename.endswith(".xlsx")
        return load_workbook(io.BytesIO(Path(saved.path()).read_bytes()))

    period, _board = open_dashboard(page, sign_in)
    view = page.locator("section.view.stats")
    with page.expect_download() as download:
        view.get_by_role("button", name="导出 Excel", exact=True).click()
    book = opened(download.value)
    assert book.sheetnames[:4] == ["总体", "按类别", "按社区", "按服务方"]
    overall = book["总体"]
    assert overall.freeze_panes == "A2" and "办结率" in [c.value for c in overall[1]]
    summary = live_server.api(
        "supervisor", "GET", "/api/v1/stats/summary", params={"from": period["from"], "to": period["to"]}
    )
    received = [c.value for c in overall[1]].index("受理工单")
    assert overall.cell(2, received + 1).value == summary["received"]

    with page.expect_download() as download:
        view.get_by_role("button", name="导出工单 Excel").click()
    orders = opened(download.value)["工单"]
    assert [c.value for c in orders[1]][:3] == ["工单编号", "受理时间", "状态"] and orders.max_row > 1
    with page.expect_download() as download:
        view.get_by_role("button", name="导出工单 CSV").click()
    lines = list(csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8-sig"))))
    assert lines[0][:3] == ["工单编号", "受理时间", "状态"] and len(lines) == orders.max_row
