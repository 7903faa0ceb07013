"""The types every request value goes through: ids, times, page positions.

Each type refuses what the databases cannot take with a 422 that names the field, before any SQL
runs. Without them a value pydantic accepts could still fail in the driver: an id of 2**31 is
"integer out of range" on PostgreSQL and one of 2**63 an ``OverflowError`` in SQLite's binding, a
time of ``0001-01-01T00:00:00+14:00`` overflows when converted to UTC. The last net for what
slips past them is the ``DataError`` handler in ``dispatch.app``.

Use them for path and query parameters and for body fields alike:
``order_id: Id``, ``provider_id: Id | None = None``, ``from_: Annotated[AwareTime | None, Query(alias="from")]``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from annotated_types import Interval
from pydantic import AfterValidator, BeforeValidator, PlainSerializer, WithJsonSchema

from dispatch.errors import InvalidValue

# Every table's id is a 32-bit INTEGER on PostgreSQL (SERIAL): 1 .. 2**31 - 1.
MAX_ID = 2**31 - 1
Id = Annotated[int, Interval(ge=1, le=MAX_ID)]

# No list is long enough to skip further, and both databases take this as an OFFSET.
MAX_OFFSET = 2**31 - 1

EXAMPLE_TIME = "2026-11-01T08:00:00+08:00"
_ISO = re.compile(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d")
# "…T09:00:00 08:00": a "+" sent unencoded in a query string arrives as a space.
_UNENCODED_PLUS = re.compile(r"(T\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d(?::?\d\d)?)$")


def _iso_text(value: Any) -> Any:
    """Only ISO 8601 text (or a datetime): pydantic would also read ``0.5`` as a Unix time."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO.match(value.strip()):
        raise InvalidValue(
            f"not an ISO 8601 time with a time zone (e.g. {EXAMPLE_TIME})",
            message=f"应为带时区的 ISO 8601 时间（如 {EXAMPLE_TIME}）",
        )
    return _UNENCODED_PLUS.sub(r"\1+\2", value.strip())


# Far wider than any record, and far enough from the ends of ``datetime`` that converting to any
# time zone, or going back a period from it, never overflows.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidValue(
            f"give a time zone (e.g. {EXAMPLE_TIME})", message=f"请带上时区（如 {EXAMPLE_TIME}）"
        )
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        raise InvalidValue(
            "out of range: give a time from 1900 to 2999",
            message="时间超出范围：须在 1900 年至 2999 年之间",
        )
    return utc


AwareTime = Annotated[
    datetime,
    BeforeValidator(_iso_text),
    AfterValidator(_aware_utc),
    PlainSerializer(lambda v: v.isoformat(), return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time", "examples": [EXAMPLE_TIME]}),
]
"""An ISO 8601 time with a time zone, within what UTC can hold; given to the code in UTC."""
