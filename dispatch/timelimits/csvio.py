"""A year of the working-day calendar as CSV: ``date,is_workday,name,source``, one row per day that
differs from plain Monday–Friday (or carries a name, like a Saturday inside 春节).

Written UTF-8 with a byte-order mark, so Excel shows the Chinese names. Read leniently where
spreadsheets differ and strictly where a mistake would move deadlines: the encoding may be UTF-8
(with or without the mark) or GB18030/GBK (what Excel on a Chinese Windows saves as "CSV");
dates may be ``2027-02-06`` or ``2027/2/6`` (Excel rewrites them so); ``is_workday`` may be
``true``/``false``, ``1``/``0``, ``是``/``否``, ``班``/``休``. Every line is checked and every
problem reported with its line number; the ``source`` column is informational and ignored.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from dispatch.spreadsheet import SafeWriter, unescape_cell

COLUMNS = ("date", "is_workday", "name", "source")
MAX_NAME = 50  # calendar_day.name
MAX_PROBLEMS = 20  # listed in one answer; the rest are counted

_DATE = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})$")
_TRUE = {"true", "1", "yes", "y", "是", "班", "上班", "工作日"}
_FALSE = {"false", "0", "no", "n", "否", "休", "休息", "休息日", "放假"}


class YearFileError(ValueError):
    """A calendar file that cannot be imported; ``problems`` name their lines, in Chinese."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = problems[:MAX_PROBLEMS]
        more = len(problems) - len(shown)
        super().__init__("；".join(shown) + (f"；另有 {more} 处问题" if more > 0 else ""))


@dataclass(frozen=True, slots=True)
class YearDay:
    day: date
    is_workday: bool
    name: str
    source: str = ""


def decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise YearFileError(["文件不是 UTF-8 或 GBK 编码的文本，请在 Excel 中另存为“CSV UTF-8（逗号分隔）”"])


def _parse_date(text: str) -> date | None:
    m = _DATE.match(text)
    if not m:
        return None
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def parse_year(data: bytes, year: int) -> list[YearDay]:
    """The days of ``year`` in a calendar file; raises :class:`YearFileError` listing every problem."""
    reader = csv.DictReader(io.StringIO(decode(data)))
    header = [(h or "").strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    missing = [c for c in ("date", "is_workday") if c not in header]
    if missing:
        raise YearFileError([f"第 1 行缺少列 {'、'.join(missing)}（第一行应为 {','.join(COLUMNS)}）"])
    problems: list[str] = []
    days: list[YearDay] = []
    first_line: dict[date, int] = {}
    for raw in reader:
        line = reader.line_num
        values = {k: unescape_cell((raw.get(k) or "").strip()) for k in ("date", "is_workday", "name")}
        if not any(values.values()):
            continue  # a blank line (or only a source)
        here: list[str] = []
        day = _parse_date(values["date"])
        if day is None:
            here.append(f"日期“{values['date']}”无法识别（应写作 {year}-02-06）")
        elif day.year != year:
            here.append(f"日期 {day.isoformat()} 不在 {year} 年内")
        elif day in first_line:
            here.append(f"日期 {day.isoformat()} 与第 {first_line[day]} 行重复")
        flag = values["is_workday"].lower()
        if flag not in _TRUE | _FALSE:
            here.append(f"is_workday“{values['is_workday']}”应为 true（上班）或 false（休息）")
        if len(values["name"]) > MAX_NAME:
            here.append(f"名称超过 {MAX_NAME} 个字")
        if here:
            problems.extend(f"第 {line} 行：{p}" for p in here)
            continue
        assert day is not None
        first_line[day] = line
        days.append(YearDay(day=day, is_workday=flag in _TRUE, name=values["name"]))
    if problems:
        raise YearFileError(problems)
    return sorted(days, key=lambda d: d.day)


def format_year(days: Iterable[YearDay]) -> bytes:
    out = io.StringIO()
    writer = SafeWriter(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for d in sorted(days, key=lambda d: d.day):
        writer.writerow([d.day.isoformat(), "true" if d.is_workday else "false", d.name, d.source])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
