"""Reports as Excel workbooks (openpyxl), and the Chinese column titles the CSVs share with them.

One writer for every workbook the server makes: a sheet per table, Chinese headers in a frozen
first row, column widths, and cell formats by the kind of column — rates as ``0.0%`` (the cell
holds the exact fraction), minutes as ``0``, stars ``0.0``, local dates and times as dates.

Formulas: openpyxl writes any text beginning with ``=`` as a formula. Text cells are written as
text, always, and text a spreadsheet would run as a formula once edited (``=``, ``+``, ``-``,
``@``: :data:`dispatch.spreadsheet.FORMULA_STARTS`) gets Excel's quote prefix, so it stays text
without showing a ``'`` — the workbook counterpart of ``SafeWriter``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from dispatch.spreadsheet import FORMULA_STARTS

Kind = Literal["text", "count", "rate", "minutes", "stars", "date", "datetime"]
FORMATS: dict[Kind, str] = {
    "text": "@",
    "count": "0",
    "rate": "0.0%",
    "minutes": "0",
    "stars": "0.0",
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm",
}
WIDTHS: dict[Kind, int] = {"count": 10, "rate": 10, "minutes": 12, "stars": 8, "date": 12, "datetime": 17}
MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSX_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {MEDIA_TYPE: {}}, "description": "an Excel workbook"}
}
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Column:
    title: str  # the Chinese header
    kind: Kind = "text"
    width: int | None = None  # characters; by kind (text: 14) when not given


def yes_no(value: bool) -> str:
    return "是" if value else "否"


def csv_text(value: Any, column: Column) -> Any:
    """A CSV cell for people (``layout=zh``), by the column's kind: rates as ``86.4%``, minutes
    to a tenth, stars to a hundredth, yes/no as 是/否, missing values empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return yes_no(value)
    if column.kind == "rate":
        return f"{value * 100:.1f}%"
    if column.kind == "minutes":
        return round(value, 1)
    if column.kind == "stars":
        return round(value, 2)
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return value


@dataclass(frozen=True)
class Sheet:
    title: str  # at most 31 characters, none of []:*?/\
    columns: Sequence[Column]
    rows: Iterable[Sequence[Any]]


# --- the supervisor metrics' Chinese titles (summarise's names) ---------------------------------

METRIC_TITLES = {
    "received": "受理工单",
    "cancelled": "已撤销",
    "completed": "已办结",
    "completed_on_time": "按时办结",
    "closure_rate": "办结率",
    "on_time_rate": "按时办结率",
    "reopened": "重办工单",
    "reopen_rate": "重办率",
    "offers": "派单次数",
    "offers_accepted": "签收次数",
    "offers_accepted_on_time": "及时签收次数",
    "offers_returned": "退单次数",
    "sign_on_time_rate": "及时签收率",
    "return_rate": "退单率",
    "ratings": "评价数",
    "ratings_satisfied": "满意评价数",
    "satisfaction_rate": "满意率",
    "avg_rating": "平均评价星级",
    "calls_inbound": "呼入电话",
    "calls_answered": "接通电话",
    "calls_answered_15s": "15秒内接通",
    "calls_abandoned": "放弃呼叫",
    "calls_repeat": "重复来电",
    "answer_rate": "接通率",
    "answered_15s_rate": "15秒接通率",
    "abandon_rate": "放弃率",
    "repeat_call_rate": "重复来电率",
    "callbacks": "待回拨登记",
    "callbacks_called_on_time": "按时回拨",
    "callbacks_never_called": "未回拨",
    "callback_on_time_rate": "按时回拨率",
}
_STATISTIC = {"mean": "平均", "p50": "中位", "p90": "P90"}
_STEP = {"accept": "签收", "arrive": "到场", "complete": "办结"}
_DURATION = re.compile(r"^(mean|p50|p90)_minutes_to_(accept|arrive|complete)$")


def metric_column(name: str) -> Column:
    """The column of one of summarise's metrics: its Chinese title and its kind."""
    if found := _DURATION.match(name):
        statistic, step = found.groups()
        return Column(f"{_STATISTIC[statistic]}{_STEP[step]}用时（分钟）", "minutes")
    title = METRIC_TITLES.get(name, name)
    if name.endswith("_rate"):
        return Column(title, "rate")
    if name == "avg_rating":
        return Column(title, "stars")
    return Column(title, "count")


# --- cells --------------------------------------------------------------------------------------


def _value(value: Any, kind: Kind) -> Any:
    """A value as the cell should hold it: local date-times without their zone (Excel has none),
    ISO days as dates, yes/no as 是/否 (as in the CSV for people), text without the control
    characters XML cannot carry."""
    if isinstance(value, bool):
        return yes_no(value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if kind == "date" and isinstance(value, str) and _DAY.match(value):
        return date.fromisoformat(value)
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    return value


def workbook(sheets: Iterable[Sheet]) -> bytes:
    """The sheets as an .xlsx file."""
    book = Workbook()
    book.remove(book.active)
    bold = Font(bold=True)
    for sheet in sheets:
        ws = book.create_sheet(sheet.title[:31])
        for n, column in enumerate(sheet.columns, start=1):
            cell = ws.cell(row=1, column=n, value=column.title)
            cell.font = bold
            width = column.width or WIDTHS.get(column.kind, 14)
            ws.column_dimensions[get_column_letter(n)].width = max(width, 2 * len(column.title) + 2)
        for r, row in enumerate(sheet.rows, start=2):
            for n, (column, raw) in enumerate(zip(sheet.columns, row, strict=True), start=1):
                if raw is None or raw == "":
                    continue
                value = _value(raw, column.kind)
                cell = ws.cell(row=r, column=n)
                cell.value = value
                if isinstance(value, str):
                    cell.data_type = "s"  # never a formula (openpyxl makes "=…" one)
                    cell.quotePrefix = value[:1] in FORMULA_STARTS
                    cell.number_format = "@"
                else:
                    cell.number_format = FORMATS[column.kind]
        ws.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
