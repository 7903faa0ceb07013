"""The KPI fact rows the session events kept, against the rows a fresh backfill builds."""

from __future__ import annotations

from sqlalchemy import Connection, Engine, delete, select
from sqlalchemy.orm import Session

from dispatch import facts


def _rows(conn: Connection) -> list[tuple]:
    orders, calls = facts.order_fact, facts.call_fact
    rows = [tuple(r) for r in conn.execute(select(*orders.c).order_by(orders.c.order_id, orders.c.part))]
    return rows + [("call", *r) for r in conn.execute(select(*calls.c).order_by(calls.c.call_id))]


def _kept_and_rebuilt(conn: Connection) -> tuple[list[tuple], list[tuple]]:
    kept = _rows(conn)
    conn.execute(delete(facts.order_fact))
    conn.execute(delete(facts.call_fact))
    facts.backfill(conn)
    facts.backfill_calls(conn)
    return kept, _rows(conn)


def assert_facts_current(bind: Engine | Session) -> int:
    """Every order's and call's fact rows are what its order, offers and ratings (the call) say now (nothing is
    changed: the rebuild is rolled back); returns the number of rows."""
    if isinstance(bind, Session):
        savepoint = bind.begin_nested()
        kept, rebuilt = _kept_and_rebuilt(bind.connection())
        savepoint.rollback()
    else:
        with bind.connect() as conn:
            kept, rebuilt = _kept_and_rebuilt(conn)
            conn.rollback()
    assert set(kept) ^ set(rebuilt) == set(), sorted(set(kept) ^ set(rebuilt))[:10]
    assert kept == rebuilt
    return len(kept)
