"""The live suggester: built from the catalogue in the database, rebuilt when an admin edits it."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.cache import StampedCache
from dispatch.catalogue.suggest import ItemText, Suggester, Suggestion
from models import Category, Item


def load_item_texts(session: Session) -> list[ItemText]:
    rows = session.execute(
        select(Item, Category)
        .join(Category, Category.id == Item.category_id)
        .where(Item.active.is_(True), Category.active.is_(True))
        .order_by(Item.code)
    ).all()
    return [
        ItemText(
            item_code=item.code,
            category_code=cat.code,
            name_zh=item.name_zh,
            name_en=item.name_en,
            category_zh=cat.name_zh,
            category_en=cat.name_en,
            keywords=tuple(k for k in item.keywords.split("|") if k),
        )
        for item, cat in rows
    ]


_BUILT: OrderedDict[tuple[ItemText, ...], Suggester] = OrderedDict()
_BUILT_LOCK = threading.Lock()


def build_suggester(items: list[ItemText]) -> Suggester:
    """A suggester for exactly these items; built ones are reused (building one takes a while)."""
    key = tuple(items)
    with _BUILT_LOCK:
        found = _BUILT.get(key)
        if found is not None:
            _BUILT.move_to_end(key)
            return found
    built = Suggester(items)
    with _BUILT_LOCK:
        _BUILT[key] = built
        while len(_BUILT) > 4:
            _BUILT.popitem(last=False)
    return built


def catalogue_stamp(session: Session) -> tuple[Any, ...]:
    items = session.execute(select(func.count(Item.id), func.max(Item.updated_at))).one()
    cats = session.execute(select(func.count(Category.id), func.max(Category.updated_at))).one()
    return (*items, *cats)


class SuggestionService:
    def __init__(self, check_every: float = 0.0) -> None:
        self.cache = StampedCache(
            stamp=catalogue_stamp,
            build=lambda s: build_suggester(load_item_texts(s)),
            check_every=check_every,
        )

    def suggester(self, session: Session) -> Suggester:
        return self.cache.get(session)

    def suggest(self, session: Session, text: str, limit: int = 3) -> list[Suggestion]:
        return self.suggester(session).suggest(text, limit=limit)
