"""Weekly working hours: one format for providers' timetables and the call centre's opening hours.

``{"mon": [["08:30", "12:00"], ["13:30", "17:30"]], "sat": [["09:00", "12:00"]]}``: local times,
each span from its start up to (not including) its end; a day left out is a day off; an empty
timetable means always open (24×7 services, hotlines). Pure: no database, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import WithJsonSchema

from dispatch.errors import InvalidValue

DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")

WorkingHours = dict[str, list[tuple[str, str]]]
# The same as a payload field: the schema says the days and the HH:MM form (check_hours also
# refuses a span that ends before it starts, which a schema cannot say).
_HHMM_SCHEMA = {"type": "string", "pattern": _HHMM.pattern}
WorkingHoursIn = Annotated[
    WorkingHours,
    WithJsonSchema(
        {
            "type": "object",
            "propertyNames": {"enum": list(DAY_KEYS)},
            "additionalProperties": {
                "type": "array",
                "items": {
                    "type": "array",
                    "prefixItems": [_HHMM_SCHEMA, _HHMM_SCHEMA],
                    "minItems": 2,
                    "maxItems": 2,
                },
            },
            "examples": [{"mon": [["08:30", "12:00"], ["13:30", "17:30"]]}],
        }
    ),
]
_DAYS_ZH = dict(zip(DAY_KEYS, ("周一", "周二", "周三", "周四", "周五", "周六", "周日"), strict=True))


def check_hours(hours: WorkingHours | None) -> WorkingHours | None:
    """The timetable unchanged, or ValueError naming the day and span that is wrong."""
    if hours is None:
        return None
    for day, spans in hours.items():
        if day not in DAY_KEYS:
            raise InvalidValue(
                f"unknown day {day!r}; use {', '.join(DAY_KEYS)}",
                message=f"不认识的星期 {day}，可选：{'、'.join(f'{k}（{v}）' for k, v in _DAYS_ZH.items())}",
            )
        for start, end in spans:
            if not _HHMM.match(start) or not _HHMM.match(end):
                raise InvalidValue(
                    f"{day}: times must be HH:MM, got {start!r}-{end!r}",
                    message=f"{_DAYS_ZH[day]}：时间须为 HH:MM 格式（当前为 {start}-{end}）",
                )
            if start >= end:
                raise InvalidValue(
                    f"{day}: {start}-{end} ends before it starts",
                    message=f"{_DAYS_ZH[day]}：{start}-{end} 结束早于开始",
                )
    return hours


def in_working_hours(hours: Mapping[str, Sequence[Sequence[str]]] | None, at: datetime, tz: ZoneInfo) -> bool:
    """Whether ``at`` falls inside the timetable, read in the local zone ``tz``."""
    if not hours:
        return True
    local = at.astimezone(tz)
    hhmm = local.strftime("%H:%M")
    return any(start <= hhmm < end for start, end in hours.get(DAY_KEYS[local.weekday()], []))


def next_open(hours: Mapping[str, Sequence[Sequence[str]]] | None, at: datetime, tz: ZoneInfo) -> datetime:
    """``at`` when it falls inside the timetable, else the start of the next span (in UTC); an
    empty timetable is always open. A timetable with no span at all in a week never opens: ``at``."""
    if not hours or in_working_hours(hours, at, tz):
        return at
    local = at.astimezone(tz)
    for days_ahead in range(8):
        day = (local + timedelta(days=days_ahead)).date()
        for start, _end in sorted(hours.get(DAY_KEYS[day.weekday()], [])):
            if start == "24:00":
                continue
            opening = datetime.combine(day, time.fromisoformat(start), tz)
            if opening > local:
                return opening.astimezone(UTC)
    return at
