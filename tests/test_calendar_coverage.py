"""How far the working-day calendar is official: the pure rule, without a database."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from dispatch.timelimits.calendar import WorkCalendar
from dispatch.timelimits.coverage import WARN_DAYS, coverage_of

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
    assert cov.warning is not None and cov.warning.startswith("本年度（2027年）的法定节假日安排尚未录入")


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
