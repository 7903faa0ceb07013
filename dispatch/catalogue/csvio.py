"""Reading and writing the catalogue CSV (the layout of ``shared/catalogue/catalogue.csv``).

The project ships its own copy in ``dispatch/catalogue/data/catalogue.csv``; admins import and
export the same layout with ``sanshe catalogue import|export``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from dispatch.spreadsheet import SafeWriter, unescape_cell

DEFAULT_CATALOGUE = Path(__file__).parent / "data" / "catalogue.csv"

COLUMNS = (
    "category_code",
    "category_zh",
    "category_en",
    "item_code",
    "item_zh",
    "item_en",
    "sla_class",
    "home_visit",
    "keywords",
    "notice",
)
SLA_CLASSES = ("urgent", "priority", "normal", "consult")


class CatalogueFormatError(ValueError):
    """A catalogue CSV that cannot be imported; the message names the line and column."""


@dataclass(frozen=True, slots=True)
class CatalogueRow:
    category_code: str
    category_zh: str
    category_en: str
    item_code: str
    item_zh: str
    item_en: str
    sla_class: str
    home_visit: bool
    keywords: tuple[str, ...]
    notice: str


def _parse_bool(value: str, line: int) -> bool:
    v = value.strip().lower()
    if v in ("yes", "y", "true", "1", "是"):
        return True
    if v in ("no", "n", "false", "0", "否", ""):
        return False
    raise CatalogueFormatError(f"line {line}: home_visit must be yes or no, got {value!r}")


def parse_catalogue(text: str) -> list[CatalogueRow]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise CatalogueFormatError(f"missing column(s): {', '.join(missing)}")
    rows: list[CatalogueRow] = []
    seen: set[str] = set()
    for line, raw in enumerate(reader, start=2):
        values = {k: unescape_cell((raw.get(k) or "").strip()) for k in COLUMNS}
        for required in ("category_code", "category_zh", "item_code", "item_zh", "sla_class"):
            if not values[required]:
                raise CatalogueFormatError(f"line {line}: {required} is empty")
        if values["sla_class"] not in SLA_CLASSES:
            raise CatalogueFormatError(
                f"line {line}: sla_class must be one of {', '.join(SLA_CLASSES)}, got {values['sla_class']!r}"
            )
        if values["item_code"] in seen:
            raise CatalogueFormatError(f"line {line}: item_code {values['item_code']} appears twice")
        seen.add(values["item_code"])
        keywords = tuple(k.strip() for k in values["keywords"].split("|") if k.strip())
        rows.append(
            CatalogueRow(
                category_code=values["category_code"],
                category_zh=values["category_zh"],
                category_en=values["category_en"],
                item_code=values["item_code"],
                item_zh=values["item_zh"],
                item_en=values["item_en"],
                sla_class=values["sla_class"],
                home_visit=_parse_bool(values["home_visit"], line),
                keywords=keywords,
                notice=values["notice"],
            )
        )
    return rows


def read_catalogue(path: Path | str = DEFAULT_CATALOGUE) -> list[CatalogueRow]:
    return parse_catalogue(Path(path).read_text(encoding="utf-8"))


def format_catalogue(rows: Iterable[CatalogueRow]) -> str:
    out = io.StringIO()
    writer = SafeWriter(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in rows:
        writer.writerow(
            [
                r.category_code,
                r.category_zh,
                r.category_en,
                r.item_code,
                r.item_zh,
                r.item_en,
                r.sla_class,
                "yes" if r.home_visit else "no",
                "|".join(r.keywords),
                r.notice,
            ]
        )
    return out.getvalue()
