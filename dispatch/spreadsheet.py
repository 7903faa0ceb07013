"""CSV that is safe to open in a spreadsheet: every CSV the server or the CLI writes goes through here.

Excel, WPS and LibreOffice run a cell that begins with ``=``, ``+``, ``-`` or ``@`` (or a tab or
carriage return before one) as a formula: a worker named ``=HYPERLINK("http://…","点这里")`` in a
KPI export becomes a link, or worse, on a supervisor's desk. As OWASP advises ("CSV Injection"),
such a text cell is written with a ``'`` in front, which spreadsheets show as text. Numbers are
not text and are written as they are, so ``-3`` stays a number.

A file the project reads back (the catalogue, a calendar year) takes the ``'`` off again with
:func:`unescape_cell`, so export → edit → import gives back what was exported. A cell that
already begins with ``'`` before a formula character gets one more, so that round trip is exact
for every text.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, Protocol

FORMULA_STARTS = frozenset("=+-@\t\r")
_QUOTE = "'"


class _Writable(Protocol):
    def write(self, s: str, /) -> Any: ...


def _needs_quote(text: str) -> bool:
    rest = text.lstrip(_QUOTE)
    return bool(rest) and rest[0] in FORMULA_STARTS


def safe_cell(value: object) -> object:
    """A text cell a spreadsheet would run as a formula, as text (``'=…``); anything else unchanged."""
    if isinstance(value, str) and _needs_quote(value):
        return _QUOTE + value
    return value


def unescape_cell(text: str) -> str:
    """The text :func:`safe_cell` was given (for files the project reads back)."""
    if text.startswith(_QUOTE) and _needs_quote(text):
        return text[1:]
    return text


class SafeWriter:
    """``csv.writer`` whose text cells go through :func:`safe_cell`."""

    def __init__(self, out: _Writable, **options: Any) -> None:
        self._writer = csv.writer(out, **options)

    def writerow(self, row: Iterable[object]) -> None:
        self._writer.writerow([safe_cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)
