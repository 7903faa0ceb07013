"""How far the working-day calendar is official, a holiday period's checks and the year file: the
pure rules, without a database."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from dispatch.timelimits.calendar import WorkCalendar
from dispatch.timelimits.coverage import WARN_DAYS, coverage_of
from dispatch.timelimits.csvio import YearDay, YearFileError, format_year, parse_year
from dispatch.timelimits.schedule import Period, period_problems

SHANGHAI = ZoneInfo("Asia/Shanghai")


# --- coverage ------------------------------------------------------------------------------------


def test_no_warning_61_days_before_the_end() -> None:
    cov = coverage_of({2025, 2026}, date(2026, 10, 31))
    assert (cov.official_until, cov.days_left, cov.warning) == (date(2026, 12, 31), 61, None)


def test_the_warning_starts_60_days_before_the_end() -> None:
    assert WARN_DAYS == 60
    cov = coverage_of({2025, 2026}, date(2026, 11, 1))
    assert cov.days_left == 60
    assert cov.warning is not None
    assert "2026-12-31" in cov.warning and "还剩 60 天" in cov.warning
    assert "2027年" in cov.warning and "管理 › 工作日历" in cov.warning
    assert cov.next_year_to_enter == 2027


def test_on_the_last_covered_day_nothing_is_left() -> None:
    cov = coverage_of({2026}, date(2026, 12, 31))
    assert cov.days_left == 0
    assert cov.warning is not None and "今天是已录入的最后一天" in cov.warning


def test_a_missing_middle_year_ends_the_coverage() -> None:
    cov = coverage_of({2026, 2028, 2029}, date(2026, 3, 1))
    assert cov.official_until == date(2026, 12, 31)
    assert cov.warning is None  # 305 days


def test_years_ahead_all_count() -> None:
    cov = coverage_of({2026, 2027}, date(2026, 12, 4))
    assert (cov.official_until, cov.days_left, cov.warning) == (date(2027, 12, 31), 392, None)


def test_an_uncovered_current_year_is_said_loudly() -> None:
    cov = coverage_of({2025, 2026}, date(2027, 1, 5))
    assert (cov.official_until, cov.days_left) == (date(2026, 12, 31), -5)
    assert not cov.current_year_covered
    assert cov.warning is not None and cov.warning.startswith("本年度（2027年）的节假日安排尚未录入")


def test_an_empty_calendar_covers_nothing() -> None:
    cov = coverage_of(set(), date(2026, 3, 1))
    assert cov.official_until == date(2025, 12, 31) and cov.days_left < 0
    assert cov.warning is not None and "本年度（2026年）" in cov.warning


def test_today_is_the_local_day() -> None:
    cal = WorkCalendar({}, tz=SHANGHAI, covered_years={2026})
    # 2026-10-31 16:30 UTC is already 2026-11-01 in Shanghai: 60 days, not 61.
    cov = cal.coverage(datetime(2026, 10, 31, 16, 30, tzinfo=UTC))
    assert (cov.today, cov.days_left) == (date(2026, 11, 1), 60)
    with pytest.raises(ValueError):
        cal.coverage(datetime(2026, 11, 1, 12, 0))


def test_a_deadline_beyond_the_end_is_judged_on_the_local_day() -> None:
    cov = coverage_of({2026}, date(2026, 12, 4))
    assert not cov.beyond(datetime(2026, 12, 31, 15, 59, tzinfo=UTC), SHANGHAI)  # 23:59 on the 31st
    assert cov.beyond(datetime(2026, 12, 31, 16, 0, tzinfo=UTC), SHANGHAI)  # midnight, 1 January
    assert not cov.beyond(None, SHANGHAI)


# --- a holiday period ------------------------------------------------------------------------------


SPRING = Period("春节", date(2027, 2, 6), date(2027, 2, 12), (date(2027, 2, 14), date(2027, 2, 20)))


def test_a_well_formed_period_has_no_problems() -> None:
    assert period_problems(SPRING) == []
    # 元旦 across the turn of the year, with a make-up Saturday in the year before.
    assert period_problems(Period("元旦", date(2026, 12, 31), date(2027, 1, 2), (date(2026, 12, 26),))) == []


@pytest.mark.parametrize(
    ("period", "problem"),
    [
        (Period("", SPRING.start, SPRING.end), "名称须为 1–20 个字"),
        (Period("春" * 21, SPRING.start, SPRING.end), "名称须为 1–20 个字"),
        (Period("春节", date(2027, 2, 12), date(2027, 2, 6)), "结束日期 2027-02-06 早于开始日期 2027-02-12"),
        (Period("春节", date(2027, 2, 1), date(2027, 2, 16)), "假期共 16 天，超过 15 天"),
        (Period("春节", SPRING.start, SPRING.end, (date(2027, 2, 8),)), "调休上班日 2027-02-08 在假期之内"),
        (Period("春节", SPRING.start, SPRING.end, (date(2027, 2, 15),)), "2027-02-15 是周一，本来就是工作日"),
        (Period("春节", SPRING.start, SPRING.end, (date(2027, 3, 20),)), "离假期超过 31 天"),
        (Period("春节", SPRING.start, SPRING.end, (date(2029, 2, 17),)), "同一年或相邻两年之内"),
        (Period("春节", SPRING.start, SPRING.end, (date(2027, 2, 14),) * 2), "调休上班日 2027-02-14 重复"),
    ],
)
def test_a_bad_period_is_explained(period: Period, problem: str) -> None:
    problems = period_problems(period)
    assert any(problem in p for p in problems), problems


# --- the year file -----------------------------------------------------------------------------


def test_the_year_file_round_trips_with_a_byte_order_mark() -> None:
    days = [
        YearDay(date(2027, 2, 14), True, "春节调休", "manual"),
        YearDay(date(2027, 2, 8), False, "春节", "manual"),
    ]
    data = format_year(days)
    assert data.startswith("\ufeffdate,is_workday,name,source\r\n".encode())
    assert "2027-02-08,false,春节,manual" in data.decode("utf-8-sig")
    assert parse_year(data, 2027) == [
        YearDay(date(2027, 2, 8), False, "春节"),
        YearDay(date(2027, 2, 14), True, "春节调休"),
    ]


def test_what_excel_saves_is_read() -> None:
    # GBK from Excel on Chinese Windows, dates rewritten as 2027/2/8, Chinese yes/no, no source.
    text = "date,is_workday,name\r\n2027/2/8,休,春节\r\n2027/2/14,班,春节调休\r\n,,\r\n"
    assert parse_year(text.encode("gbk"), 2027) == [
        YearDay(date(2027, 2, 8), False, "春节"),
        YearDay(date(2027, 2, 14), True, "春节调休"),
    ]


def test_every_bad_line_is_reported_with_its_number() -> None:
    text = (
        "date,is_workday,name,source\n"
        "2027-02-08,false,春节,\n"
        "2027-02-30,false,春节,\n"
        "2026-12-31,false,元旦,\n"
        "2027-02-08,true,重复,\n"
        "2027-02-09,maybe,春节,\n"
    )
    with pytest.raises(YearFileError) as caught:
        parse_year(text.encode(), 2027)
    assert caught.value.problems == [
        "第 3 行：日期“2027-02-30”无法识别（应写作 2027-02-06）",
        "第 4 行：日期 2026-12-31 不在 2027 年内",
        "第 5 行：日期 2027-02-08 与第 2 行重复",
        "第 6 行：is_workday“maybe”应为 true（上班）或 false（休息）",
    ]


def test_a_file_without_the_columns_is_refused() -> None:
    with pytest.raises(YearFileError, match="第 1 行缺少列 is_workday"):
        parse_year("date,name\n2027-02-08,春节\n".encode(), 2027)
    with pytest.raises(YearFileError, match="UTF-8 或 GBK"):
        parse_year(b"\xff\xfe\x00d\x00a", 2027)
