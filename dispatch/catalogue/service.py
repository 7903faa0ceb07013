"""Catalogue administration: SLA classes and importing/exporting categories and items."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from dispatch.catalogue.csvio import CatalogueRow
from models import Category, ClockKind, Item, SlaClass

# DESIGN.md time limits: minutes on the wall clock, working days otherwise.
DEFAULT_SLA_CLASSES = (
    SlaClass(code="urgent", name="紧急", clock=ClockKind.WALL, sign_for_limit=15, complete_limit=120),
    SlaClass(code="priority", name="优先", clock=ClockKind.WALL, sign_for_limit=30, complete_limit=24 * 60),
    SlaClass(code="normal", name="一般", clock=ClockKind.WORKING_DAYS, sign_for_limit=1, complete_limit=5),
    SlaClass(
        code="consult", name="咨询", clock=ClockKind.WORKING_DAYS, sign_for_limit=None, complete_limit=3
    ),
)


@dataclass
class ImportReport:
    categories_created: int = 0
    categories_updated: int = 0
    items_created: int = 0
    items_updated: int = 0


def ensure_sla_classes(session: Session) -> None:
    existing = set(session.scalars(select(SlaClass.code)))
    for default in DEFAULT_SLA_CLASSES:
        if default.code not in existing:
            session.add(
                SlaClass(
                    code=default.code,
                    name=default.name,
                    clock=default.clock,
                    sign_for_limit=default.sign_for_limit,
                    complete_limit=default.complete_limit,
                )
            )
    session.flush()


def import_catalogue(session: Session, rows: Iterable[CatalogueRow]) -> ImportReport:
    """Upsert categories and items by code. Items missing from the file are left as they are."""
    ensure_sla_classes(session)
    report = ImportReport()
    categories = {c.code: c for c in session.scalars(select(Category))}
    items = {i.code: i for i in session.scalars(select(Item))}
    for row in rows:
        category = categories.get(row.category_code)
        if category is None:
            category = Category(code=row.category_code, name_zh=row.category_zh, name_en=row.category_en)
            session.add(category)
            session.flush()
            categories[row.category_code] = category
            report.categories_created += 1
        elif (category.name_zh, category.name_en) != (row.category_zh, row.category_en):
            category.name_zh, category.name_en = row.category_zh, row.category_en
            report.categories_updated += 1
        values = {
            "category_id": category.id,
            "name_zh": row.item_zh,
            "name_en": row.item_en,
            "sla_class_code": row.sla_class,
            "home_visit": row.home_visit,
            "keywords": "|".join(row.keywords),
            "notice": row.notice,
        }
        item = items.get(row.item_code)
        if item is None:
            session.add(Item(code=row.item_code, **values))
            report.items_created += 1
        elif any(getattr(item, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(item, k, v)
            report.items_updated += 1
    session.flush()
    return report


def export_rows(session: Session) -> list[CatalogueRow]:
    # The order they were imported in (category, then item), so an export diffs cleanly against its source.
    stmt = select(Item).join(Category).options(selectinload(Item.category)).order_by(Category.id, Item.id)
    return [
        CatalogueRow(
            category_code=i.category.code,
            category_zh=i.category.name_zh,
            category_en=i.category.name_en,
            item_code=i.code,
            item_zh=i.name_zh,
            item_en=i.name_en,
            sla_class=i.sla_class_code,
            home_visit=i.home_visit,
            keywords=tuple(k for k in i.keywords.split("|") if k),
            notice=i.notice,
        )
        for i in session.scalars(stmt)
    ]
