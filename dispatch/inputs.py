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

from annotated_types import Interval, MaxLen
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    Strict,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import PydanticCustomError

from dispatch.errors import InvalidValue


def _not_a_flag(value: Any) -> Any:
    """pydantic would read ``true`` as 1 where a number is due."""
    if isinstance(value, bool):
        raise InvalidValue(
            "must be a whole number, not true or false", message="应为整数，不能是 true 或 false"
        )
    return value


# For a whole number in a JSON body, after its bounds (``Annotated[int, Interval(…), NotAFlag]``:
# placed before the bounds, it would hide them from the OpenAPI document).
NotAFlag = BeforeValidator(_not_a_flag)

# Every table's id is a 32-bit INTEGER on PostgreSQL (SERIAL): 1 .. 2**31 - 1.
MAX_ID = 2**31 - 1
Id = Annotated[int, Interval(ge=1, le=MAX_ID), NotAFlag]

# A true/false field of a JSON body: only true or false (pydantic would also take 0, 1, "yes").
# Not for query parameters, which arrive as text.
Flag = Annotated[bool, Strict()]

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
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "pattern": r"^(19|2[0-9])[0-9]{2}-",
            "examples": [EXAMPLE_TIME],
        }
    ),
]
"""An ISO 8601 time with a time zone, within what UTC can hold; given to the code in UTC."""


class Payload(BaseModel):
    """A JSON body: unknown fields refused, text trimmed, and a text's ``max_length`` measured
    before the trimming, as the document's ``maxLength`` says (pydantic trims first, so a padded
    value the document calls too long would be taken)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _length_as_sent(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str) and info.field_name is not None:
            field = cls.model_fields[info.field_name]
            for limit in (m.max_length for m in field.metadata if isinstance(m, MaxLen)):
                if len(value) > limit:
                    raise PydanticCustomError(
                        "string_too_long",
                        "String should have at most {max_length} characters",
                        {"max_length": limit},
                    )
        return value
