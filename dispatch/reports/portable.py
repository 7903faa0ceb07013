"""SQL pieces the KPI queries need that SQLite and PostgreSQL spell differently.

SQLite keeps timestamps as naive UTC text (see ``models.base.UTCDateTime``) and knows no time
zones; PostgreSQL has ``timestamptz``. Each construct below compiles to the right text for both;
local days are worked out from UTC instants and the zone's offsets (``offset_pieces``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import BigInteger, ColumnElement, Executable, case, func, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from dispatch.db import BINARY_RESULTS
from models import UTCDateTime

DAY_MS = 86_400_000
# What a collected integer column holds where the value is NULL (far below any real value).
MISSING = -(1 << 62)
E = TypeVar("E", bound=Executable)


class ms_since(FunctionElement[int]):
    """Whole milliseconds from ``origin`` to a timestamp column, rounded half away from zero
    (NULL stays NULL).

    Used instead of a difference of two columns so each timestamp is rounded once, the same
    way wherever it is used; durations are differences of these numbers.
    """

    type = BigInteger()
    name = "ms_since"
    inherit_cache = True

    def __init__(self, column: Any, origin: datetime) -> None:
        super().__init__(column, literal(origin, UTCDateTime()))


@compiles(ms_since, "sqlite")
def _ms_since_sqlite(element: ms_since, compiler: SQLCompiler, **kw: Any) -> str:
    # julianday() keeps whole milliseconds, which is what survives the rounding.
    column, origin = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(round((julianday({column}) - julianday({origin})) * 86400000.0) AS INTEGER)"


@compiles(ms_since, "postgresql")
def _ms_since_postgres(element: ms_since, compiler: SQLCompiler, **kw: Any) -> str:
    # The same value as round(EXTRACT(EPOCH FROM column - origin) * 1000) at half the cost:
    # EXTRACT computes in numeric. The float8 epoch of the interval, times 10^6, rounds back to
    # the exact microseconds while |column - origin| < 2^30 s (34 years); integer division then
    # rounds to the millisecond, half away from zero as round(numeric) does.
    column, origin = (compiler.process(c, **kw) for c in element.clauses)
    micros = f"CAST(date_part('epoch', {column} - {origin}) * 1000000 AS BIGINT)"
    return f"(({micros} + CASE WHEN {column} < {origin} THEN -500 ELSE 500 END) / 1000)"


class collect(FunctionElement[Any]):
    """Every value of an integer expression over the selected rows, in one value; NULL becomes
    :data:`MISSING`. Read it with :func:`unpack`.

    A month holds a quarter of a million orders. Handing them to Python row by row costs more
    than the query itself, while one text (SQLite) or one array (PostgreSQL) per column arrives
    in a single piece that numpy takes over. The columns of one query come out in the same row
    order, so they line up.
    """

    type = BigInteger()
    name = "collect"
    inherit_cache = True

    def __init__(self, expression: Any) -> None:
        super().__init__(func.coalesce(expression, literal(MISSING, BigInteger())))


@compiles(collect, "sqlite")
def _collect_sqlite(element: collect, compiler: SQLCompiler, **kw: Any) -> str:
    # Comma-separated digits: numpy reads them in C, several times faster than a JSON array.
    return f"group_concat({compiler.process(element.clauses, **kw)})"


@compiles(collect, "postgresql")
def _collect_postgres(element: collect, compiler: SQLCompiler, **kw: Any) -> str:
    return f"array_agg({compiler.process(element.clauses, **kw)})"


def in_one_piece(statement: E) -> E:
    """A statement of :class:`collect` columns, marked so PostgreSQL sends its result in binary:
    a period's array or blob then arrives as it is kept, not as text several times longer that
    the driver parses back (see ``dispatch.db.BINARY_RESULTS``). SQLite ignores the mark."""
    return statement.execution_options(**{BINARY_RESULTS: True})


def unpack(value: Any) -> np.ndarray:
    """The int64 array a :class:`collect` column delivered (both give NULL for no rows)."""
    if value is None:
        return np.zeros(0, dtype=np.int64)
    if isinstance(value, str):
        return np.fromstring(value, dtype=np.int64, sep=",")
    return np.array(value, dtype=np.int64)


class collect_blob(FunctionElement[Any]):
    """Every value of a blob expression over the selected rows, concatenated into one blob
    (None for no rows): fixed-size packed rows that numpy reads in place (``np.frombuffer``)."""

    name = "collect_blob"
    inherit_cache = True


@compiles(collect_blob, "sqlite")
def _collect_blob_sqlite(element: collect_blob, compiler: SQLCompiler, **kw: Any) -> str:
    # group_concat copies each value's bytes by length (NULs included); the cast keeps them bytes.
    return f"CAST(group_concat({compiler.process(element.clauses, **kw)}, '') AS BLOB)"


@compiles(collect_blob, "postgresql")
def _collect_blob_postgres(element: collect_blob, compiler: SQLCompiler, **kw: Any) -> str:
    return f"string_agg({compiler.process(element.clauses, **kw)}, ''::bytea)"


def unpack_blob(value: Any, dtype: np.dtype) -> np.ndarray:
    """The records a :class:`collect_blob` column delivered."""
    return np.frombuffer(bytes(value) if value is not None else b"", dtype=dtype)


class collect_text(FunctionElement[Any]):
    """Like :class:`collect` for a text column (NULL stays None); read it with :func:`unpack_text`."""

    name = "collect_text"
    inherit_cache = True


@compiles(collect_text, "sqlite")
def _collect_text_sqlite(element: collect_text, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_group_array({compiler.process(element.clauses, **kw)})"


@compiles(collect_text, "postgresql")
def _collect_text_postgres(element: collect_text, compiler: SQLCompiler, **kw: Any) -> str:
    return f"array_agg({compiler.process(element.clauses, **kw)})"


def unpack_text(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        return json.loads(value)
    return list(value)


def _offset_minutes(zone: ZoneInfo, instant: datetime) -> int:
    offset = instant.astimezone(zone).utcoffset()
    return int(offset.total_seconds() // 60) if offset is not None else 0


def offset_pieces(zone: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """[start, end) cut where the zone's UTC offset changes: (piece start, offset in minutes).

    Zones change offset at whole seconds and at most a few times a year, so a daily walk with a
    bisection in whole seconds finds every change exactly.
    """
    pieces = [(start, _offset_minutes(zone, start))]
    at = start
    while at < end:
        nxt = min(at + timedelta(days=1), end)
        if _offset_minutes(zone, nxt) == pieces[-1][1]:
            at = nxt
            continue
        lo, hi = int(at.timestamp()), int(nxt.timestamp()) + 1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _offset_minutes(zone, datetime.fromtimestamp(mid, UTC)) == pieces[-1][1]:
                lo = mid
            else:
                hi = mid
        at = datetime.fromtimestamp(hi, UTC)
        if at < end:
            pieces.append((at, _offset_minutes(zone, at)))
    return pieces


def _wall_origin(zone: ZoneInfo, start: datetime, end: datetime) -> tuple[list[tuple[datetime, int]], int]:
    """The zone's offsets over [start, end) and the start's local time of day in ms."""
    local_start = start.astimezone(zone)
    midnight = local_start.replace(hour=0, minute=0, second=0, microsecond=0)
    return offset_pieces(zone, start, end), (local_start - midnight) // timedelta(milliseconds=1)


def local_day(column: Any, zone: ZoneInfo, start: datetime, end: datetime) -> ColumnElement[int]:
    """The local date of a timestamp in [start, end) as a day number: 0 for the start's date, …

    Wall-clock ms since the first day's midnight: the start's own time of day, plus the time
    since the start, plus any change of UTC offset (DST) since the start. SQL divides integers
    by truncating, so the sum is kept positive (by whole days) for instants shortly before
    the start too.
    """
    pieces, into_day = _wall_origin(zone, start, end)
    wall: ColumnElement[int] = ms_since(column, start) + (into_day + 2 * DAY_MS)
    if len(pieces) > 1:
        shifts = [(column >= at, (minutes - pieces[0][1]) * 60_000) for at, minutes in reversed(pieces[1:])]
        wall = wall + case(*shifts, else_=0)
    return wall // DAY_MS - 2


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def us_since_epoch(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def ms_since_us(us: np.ndarray, start: datetime) -> np.ndarray:
    """:class:`ms_since` in numpy, for instants given in µs since 1970 UTC."""
    micros = us - us_since_epoch(start)
    if not len(micros) or micros.min() >= 0:  # the usual case: instants in the period
        return (micros + 500) // 1000
    return np.where(micros >= 0, (micros + 500) // 1000, -((500 - micros) // 1000))


def local_day_numbers(us: np.ndarray, zone: ZoneInfo, start: datetime, end: datetime) -> np.ndarray:
    """:func:`local_day` in numpy, for instants in [start, end) given in µs since 1970 UTC."""
    pieces, into_day = _wall_origin(zone, start, end)
    wall = ms_since_us(us, start) + (into_day + 2 * DAY_MS)
    if len(pieces) > 1:
        at = np.array([us_since_epoch(a) for a, _ in pieces[1:]], dtype=np.int64)
        shift = np.array([0, *((m - pieces[0][1]) * 60_000 for _, m in pieces[1:])], dtype=np.int64)
        wall = wall + shift[np.searchsorted(at, us, side="right")]
    return wall // DAY_MS - 2
