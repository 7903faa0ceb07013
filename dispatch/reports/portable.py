"""SQL pieces the KPI queries need that SQLite and PostgreSQL spell differently.

SQLite keeps timestamps as naive UTC text (see ``models.base.UTCDateTime``) and knows no time
zones; PostgreSQL has ``timestamptz``. Each construct below compiles to the right text for both;
local dates are worked out in Python from UTC instants and the zone's offsets (``offset_pieces``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from models import UTCDateTime


class ms_since(FunctionElement[int]):
    """Whole milliseconds from ``origin`` to a timestamp column (NULL stays NULL).

    Used instead of a difference of two columns so each timestamp is parsed once per row; the
    durations are then differences of these numbers. julianday() keeps milliseconds, which is
    what survives the rounding.
    """

    type = BigInteger()
    name = "ms_since"
    inherit_cache = True

    def __init__(self, column: Any, origin: datetime) -> None:
        super().__init__(column, literal(origin, UTCDateTime()))


@compiles(ms_since, "sqlite")
def _ms_since_sqlite(element: ms_since, compiler: SQLCompiler, **kw: Any) -> str:
    column, origin = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(round((julianday({column}) - julianday({origin})) * 86400000.0) AS INTEGER)"


@compiles(ms_since, "postgresql")
def _ms_since_postgres(element: ms_since, compiler: SQLCompiler, **kw: Any) -> str:
    column, origin = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(round(EXTRACT(EPOCH FROM ({column} - {origin})) * 1000) AS BIGINT)"


class collect(FunctionElement[Any]):
    """Every value of an expression over the selected rows, in one value; read it with :func:`unpack`.

    A month holds a quarter of a million orders. Handing them to Python row by row costs more
    than the query itself, while one JSON array (SQLite) or one array (PostgreSQL) per column
    arrives in a single piece that numpy takes over. The arrays of one query come out in the same
    row order, so they line up.
    """

    name = "collect"
    inherit_cache = True


@compiles(collect, "sqlite")
def _collect_sqlite(element: collect, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_group_array({compiler.process(element.clauses, **kw)})"


@compiles(collect, "postgresql")
def _collect_postgres(element: collect, compiler: SQLCompiler, **kw: Any) -> str:
    return f"array_agg({compiler.process(element.clauses, **kw)})"


def unpack(value: Any) -> list[Any]:
    """The list a :class:`collect` column delivered (PostgreSQL gives NULL for no rows)."""
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
