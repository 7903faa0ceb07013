"""Files to download: an Excel workbook or a CSV, as an attachment (HTTP plumbing routers share)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Literal

from fastapi import Query, Response

from dispatch.reports.xlsx import MEDIA_TYPE, Sheet, workbook

# The report CSVs come in two layouts: for people (the default) and for scripts.
Layout = Literal["raw", "zh"]
LayoutParam = Annotated[
    Layout,
    Query(
        description="zh (default): Chinese headers and readable values, for people; raw: field names and exact values, for scripts"
    ),
]
CSV_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "UTF-8 with a byte-order mark"}
}


def xlsx_response(sheets: Iterable[Sheet], filename: str) -> Response:
    return Response(
        content=workbook(sheets),
        media_type=MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def csv_response(text: str, filename: str) -> Response:
    """CSV as UTF-8 with a byte-order mark: without it Excel reads the file in the local ANSI
    code page and the Chinese comes out garbled."""
    return Response(
        content=("\ufeff" + text).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
