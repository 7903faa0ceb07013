"""Keeping the working-day calendar current over HTTP, on both databases: coverage and its warning,
a holiday period in one step, a year as CSV, confirming a year, and orders whose deadlines fall
past the official calendar."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select

from dispatch.timelimits.calendar import seed_calendar
from models import CalendarDay, CalendarYear, Role
from tests.factories import SHANGHAI, SPRING_2027, SPRING_2027_DAYS, new_order

pytestmark = pytest.mark.manual_dispatch  # the frozen clock


def local(y: int, mo: int, d: int, h: int = 10) -> datetime:
    return datetime(y, mo, d, h, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def official_calendar(session_factory, clock) -> None:
    """As ``sanshe migrate`` leaves it with chinese-calendar 1.11 (two of its years suffice),
    seen on 2026-12-04, 27 days before its end."""
    with session_factory() as s:
        seed_calendar(s, [2025, 2026])
        s.commit()
    clock.set(local(2026, 12, 4))


@pytest.fixture
def admin(login) -> dict[str, str]:
    return login(Role.ADMIN)


def days_of(session_factory, year: int) -> list[tuple[str, bool, str, str]]:
    with session_factory() as s:
        rows = s.scalars(
            select(CalendarDay).where(CalendarDay.day.between(date(year, 1, 1), date(year, 12, 31)))
        )
        return sorted((r.day.isoformat(), r.is_workday, r.name, r.source) for r in rows)


def covered_years(session_factory) -> list[tuple[int, str]]:
    with session_factory() as s:
        return [(y.year, y.source) for y in s.scalars(select(CalendarYear).order_by(CalendarYear.year))]


# --- coverage ------------------------------------------------------------------------------------


def test_coverage_warns_60_days_before_the_end(client, login, clock) -> None:
    worker = login(Role.WORKER)
    r = client.get("/api/v1/calendar/coverage", headers=worker)  # any signed-in role may read it
    assert r.status_code == 200
    body = r.json()
    assert (body["official_until"], body["days_left"], body["today"]) == ("2026-12-31", 27, "2026-12-04")
    assert "还剩 27 天" in body["warning"] and "2027年" in body["warning"]
    assert [(y["year"], y["source"], y["covered"]) for y in body["years"]] == [
        (2025, "chinese-calendar", True),
        (2026, "chinese-calendar", True),
    ]
    clock.set(local(2026, 10, 31))
    body = client.get("/api/v1/calendar/coverage", headers=worker).json()
    assert (body["days_left"], body["warning"]) == (61, None)
    assert client.get("/api/v1/calendar/coverage").status_code == 401


def test_health_keeps_its_answer_and_adds_the_calendar_on_request(client, clock) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    r = client.get("/health", params={"detail": "true"})
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    calendar = body["checks"]["calendar"]
    assert {k: calendar[k] for k in ("status", "official_until", "days_left")} == {
        "status": "warn",
        "official_until": "2026-12-31",
        "days_left": 27,
    }
    assert "还剩 27 天" in calendar["warning"]
    clock.set(local(2026, 6, 1))
    assert client.get("/health?detail=true").json()["checks"]["calendar"]["status"] == "ok"


# --- a holiday period in one step -------------------------------------------------------------------


def test_a_holiday_period_is_set_in_one_step(client, admin, operator, session_factory) -> None:
    r = client.post("/api/v1/calendar/periods", json=SPRING_2027, headers=admin)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 9
    assert [(d["day"], d["is_workday"], d["name"]) for d in body["items"]] == SPRING_2027_DAYS
    assert {d["source"] for d in body["items"]} == {"manual"}
    listed = client.get(
        "/api/v1/calendar", params={"from": "2027-02-01", "to": "2027-02-28"}, headers=operator
    ).json()
    assert [d["day"] for d in listed["items"]] == [d["day"] for d in body["items"]]
    assert client.post("/api/v1/calendar/periods", json=SPRING_2027, headers=operator).status_code == 403
    # Setting it again changes nothing.
    assert client.post("/api/v1/calendar/periods", json=SPRING_2027, headers=admin).json() == body
    assert len(days_of(session_factory, 2027)) == 9


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"end": "2027-02-05"}, "早于开始日期"),
        ({"end": "2027-02-28"}, "超过 15 天"),
        ({"workdays": ["2027-02-14", "2027-02-10"]}, "2027-02-10 在假期之内"),
        ({"workdays": ["2027-02-15"]}, "本来就是工作日"),
        ({"name": " "}, "名称须为 1–20 个字"),
        ({"workdays": ["2029-02-17"]}, "相邻两年"),
    ],
)
def test_a_bad_period_is_refused_and_writes_nothing(client, admin, session_factory, change, says) -> None:
    r = client.post("/api/v1/calendar/periods", json={**SPRING_2027, **change}, headers=admin)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid_period" and says in r.json()["message"]
    assert days_of(session_factory, 2027) == []


def test_deadlines_follow_a_new_period_at_once(client, admin, operator, world, clock) -> None:
    clock.set(local(2027, 2, 4))  # Thursday before 春节; 2027 not entered yet
    guessed = new_order(
        client, operator, item_code="HOME-06", description="打扫卫生", caller_phone="13900000001"
    )
    assert guessed["complete_by"].startswith("2027-02-11")  # 5 working days counted Mon–Fri
    assert guessed["deadline_uncovered"] is True
    assert client.post("/api/v1/calendar/periods", json=SPRING_2027, headers=admin).status_code == 200
    after = new_order(
        client, operator, item_code="HOME-06", description="打扫卫生", caller_phone="13900000002"
    )
    # Fri 02-05, then Sun 02-14 (调休), Mon 02-15, Tue 02-16, Wed 02-17.
    assert datetime.fromisoformat(after["complete_by"]) == local(2027, 2, 17)


# --- confirming a year ---------------------------------------------------------------------------


def test_a_year_is_confirmed_only_once_its_holidays_are_entered(
    client, admin, login, session_factory
) -> None:
    r = client.put("/api/v1/calendar/years/2027", json={}, headers=admin)
    assert r.status_code == 400 and r.json()["error"] == "no_holidays"
    assert "2027年还没有录入任何节假日" in r.json()["message"]
    assert client.post("/api/v1/calendar/periods", json=SPRING_2027, headers=admin).status_code == 200
    assert client.put("/api/v1/calendar/years/2027", headers=login(Role.SUPERVISOR)).status_code == 403
    r = client.put("/api/v1/calendar/years/2027", json={"note": "国办发明电〔2026〕号"}, headers=admin)
    assert r.status_code == 200, r.text
    year = r.json()
    assert (year["year"], year["covered"], year["source"], year["note"]) == (
        2027,
        True,
        "manual",
        "国办发明电〔2026〕号",
    )
    assert year["confirmed_by"].startswith("admin") and year["confirmed_at"].startswith("2026-12-04")
    cov = client.get("/api/v1/calendar/coverage", headers=admin).json()
    assert (cov["official_until"], cov["days_left"], cov["warning"]) == ("2027-12-31", 392, None)

    r = client.delete("/api/v1/calendar/years/2027", headers=admin)
    assert r.status_code == 200 and r.json()["covered"] is False
    assert client.get("/api/v1/calendar/coverage", headers=admin).json()["official_until"] == "2026-12-31"
    assert len(days_of(session_factory, 2027)) == 9  # the days stay as entered
    r = client.delete("/api/v1/calendar/years/2026", headers=admin)
    assert r.status_code == 409 and r.json()["error"] == "library_year"


def test_a_year_not_yet_published_cannot_be_confirmed(client, admin) -> None:
    period = {"name": "春节", "start": "2028-01-26", "end": "2028-02-01", "workdays": []}
    assert client.post("/api/v1/calendar/periods", json=period, headers=admin).status_code == 200
    r = client.put("/api/v1/calendar/years/2028", headers=admin)
    assert r.status_code == 400 and r.json()["error"] == "year_not_published"
    assert client.put("/api/v1/calendar/years/1999", headers=admin).status_code == 422


# --- a year as CSV -------------------------------------------------------------------------------


def csv_of(*lines: str) -> bytes:
    return ("date,is_workday,name,source\n" + "\n".join(lines) + "\n").encode()


def test_a_year_exports_and_imports_as_csv(client, admin, login, session_factory) -> None:
    supervisor = login(Role.SUPERVISOR)
    r = client.get("/api/v1/calendar/years/2026.csv", headers=supervisor)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert 'filename="calendar-2026.csv"' in r.headers["content-disposition"]
    assert r.content.startswith(b"\xef\xbb\xbfdate,is_workday,name,source\r\n")
    assert "2026-01-01,false,元旦,chinese-calendar" in r.content.decode("utf-8-sig")

    client.post("/api/v1/calendar/periods", json=SPRING_2027, headers=admin)
    exported = client.get("/api/v1/calendar/years/2027.csv", headers=admin).content
    before = days_of(session_factory, 2027)
    # Another file replaces the year's manual days...
    other = csv_of("2027-01-01,false,元旦,", "2027-02-08,false,春节,")
    headers = {**admin, "Content-Type": "text/csv"}
    r = client.post("/api/v1/calendar/years/2027.csv", content=other, headers=headers)
    assert r.status_code == 200, r.text
    assert (r.json()["days"], r.json()["covered"]["source"]) == (2, "import")
    assert r.json()["covered"]["confirmed_by"].startswith("admin")
    assert [d[0] for d in days_of(session_factory, 2027)] == ["2027-01-01", "2027-02-08"]
    assert (2027, "import") in covered_years(session_factory)
    # ...and the export brings it back as it was.
    assert (
        client.post("/api/v1/calendar/years/2027.csv", content=exported, headers=headers).status_code == 200
    )
    assert days_of(session_factory, 2027) == before
    assert client.get("/api/v1/calendar/years/2027.csv", headers=admin).content == exported
    assert (
        client.post(
            "/api/v1/calendar/years/2027.csv",
            content=exported,
            headers={**supervisor, "Content-Type": "text/csv"},
        ).status_code
        == 403
    )


def test_importing_a_library_year_keeps_what_agrees_with_the_library(client, admin, session_factory) -> None:
    exported = client.get("/api/v1/calendar/years/2026.csv", headers=admin).content
    before = days_of(session_factory, 2026)
    # Drop 2026-01-01 (元旦) from the file: the year becomes exactly the file.
    text = exported.decode("utf-8-sig").replace("2026-01-01,false,元旦,chinese-calendar\r\n", "")
    r = client.post(
        "/api/v1/calendar/years/2026.csv",
        content=text.encode(),
        headers={**admin, "Content-Type": "text/csv"},
    )
    assert r.status_code == 200, r.text
    assert (r.json()["changed"], r.json()["covered"]["source"]) == (1, "chinese-calendar")
    after = days_of(session_factory, 2026)
    assert ("2026-01-01", True, "", "manual") in after  # pinned as a plain Thursday
    assert [d for d in after if d[0] != "2026-01-01"] == [d for d in before if d[0] != "2026-01-01"]
    # The unchanged export puts the library's day back.
    r = client.post(
        "/api/v1/calendar/years/2026.csv", content=exported, headers={**admin, "Content-Type": "text/csv"}
    )
    assert r.status_code == 200 and days_of(session_factory, 2026) == before


def test_a_bad_file_is_refused_line_by_line_and_writes_nothing(client, admin, session_factory) -> None:
    client.post("/api/v1/calendar/periods", json=SPRING_2027, headers=admin)
    before = days_of(session_factory, 2027)
    headers = {**admin, "Content-Type": "text/csv"}
    bad = csv_of("2027-01-01,false,元旦,", "2028-01-01,false,元旦,", "2027-02-31,true,,")
    r = client.post("/api/v1/calendar/years/2027.csv", content=bad, headers=headers)
    assert r.status_code == 400 and r.json()["error"] == "invalid_calendar_file"
    assert r.json()["message"] == (
        "日历文件有误：第 3 行：日期 2028-01-01 不在 2027 年内；第 4 行：日期“2027-02-31”无法识别（应写作 2027-02-06）"
    )
    assert r.json()["detail"] == "the calendar file has 2 problem(s), listed in message"
    # A file without a single holiday would be a Monday–Friday guess: refused, nothing written.
    r = client.post(
        "/api/v1/calendar/years/2027.csv", content=csv_of("2027-02-20,true,调休,"), headers=headers
    )
    assert r.status_code == 400 and r.json()["error"] == "no_holidays"
    assert days_of(session_factory, 2027) == before
    assert (2027, "import") not in covered_years(session_factory)
    r = client.post("/api/v1/calendar/years/2027.csv", content=b"x" * (300 * 1024), headers=headers)
    assert r.status_code == 413


# --- orders past the official calendar ---------------------------------------------------------------


def test_orders_past_the_official_calendar_are_marked(client, admin, operator, world, clock) -> None:
    early = new_order(
        client, operator, item_code="HOME-06", description="打扫卫生", caller_phone="13900000005"
    )
    assert early["complete_by"].startswith("2026-12-11") and early["deadline_uncovered"] is False
    clock.set(local(2026, 12, 28))  # Monday; 5 working days counted Mon–Fri reach 2027-01-04
    first = new_order(
        client, operator, item_code="HOME-06", description="打扫卫生", caller_phone="13900000003"
    )
    clock.set(local(2026, 12, 30))
    second = new_order(
        client, operator, item_code="HOME-06", description="打扫卫生", caller_phone="13900000004"
    )
    assert second["complete_by"].startswith("2027-01-06")
    assert second["deadline_uncovered"] is True  # in the creation payload
    listed = client.get("/api/v1/orders", headers=operator).json()["items"]
    flags = {o["id"]: o["deadline_uncovered"] for o in listed}
    assert flags == {early["id"]: False, first["id"]: True, second["id"]: True}  # 2027-01-04 and -06
    assert client.get(f"/api/v1/orders/{second['id']}", headers=operator).json()["deadline_uncovered"] is True
    # A finished order's deadline no longer matters.
    r = client.post(f"/api/v1/orders/{first['id']}/cancel", json={"reason": "居民取消"}, headers=operator)
    assert r.status_code == 200, r.text
    assert client.get(f"/api/v1/orders/{first['id']}", headers=operator).json()["deadline_uncovered"] is False
    # Once 2027 is entered and confirmed, the deadline is inside the official calendar again.
    client.post(
        "/api/v1/calendar/periods",
        json={"name": "元旦", "start": "2027-01-01", "end": "2027-01-03", "workdays": []},
        headers=admin,
    )
    assert client.put("/api/v1/calendar/years/2027", headers=admin).status_code == 200
    assert (
        client.get(f"/api/v1/orders/{second['id']}", headers=operator).json()["deadline_uncovered"] is False
    )
