"""Engine and sessions.

SQLite gets WAL, a busy timeout and foreign keys, and every transaction starts with
``BEGIN IMMEDIATE``: SQLite has one writer at a time, and taking the write lock up front makes a
second writer wait instead of failing half-way when it tries to upgrade a read lock.

Within one process, writers queue on a Python lock before ``BEGIN IMMEDIATE``: SQLite's own busy
handler waits by sleeping and polling (up to 100 ms a nap), which under load wastes most of the
time the lock is free. Other processes on the same file still wait through busy_timeout.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, Insert, create_engine, event, insert, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, make_transient_to_detached, sessionmaker

from dispatch import facts

facts.install()  # every session keeps the KPI fact rows of the orders it changes

SQLITE_BUSY_TIMEOUT_MS = 30_000
M = TypeVar("M")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" hook issue BEGIN itself (pysqlite's own transaction handling is off).
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


class DatabaseBusy(TimeoutError):
    """SQLite's writer lock stayed taken past the busy timeout (answered 503, see dispatch.health)."""


_LOCK_KEY = "sanshe_write_lock"
READ_ONLY = "sanshe_read_only"  # execution option: a deferred read transaction (see read_only)
# Execution option: PostgreSQL sends the statement's result in binary. Meant for the KPI
# queries that return a period's rows in one aggregated value: a bytea arrives as its bytes
# instead of hex text twice as long that psycopg then decodes (60-90 ms a month of orders).
BINARY_RESULTS = "sanshe_binary_results"


def _install_sqlite_transactions(engine: Engine) -> None:
    lock = threading.Lock()

    def begin(conn: Any) -> None:
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")  # WAL: readers see the last commit and wait for no one
            return
        if not lock.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000):
            raise DatabaseBusy("the database stayed busy too long; try again")
        conn.info[_LOCK_KEY] = True
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            conn.info.pop(_LOCK_KEY, None)
            lock.release()
            raise

    def end(conn: Any) -> None:
        if conn.info.pop(_LOCK_KEY, None):
            lock.release()

    event.listen(engine, "begin", begin)
    event.listen(engine, "commit", end)
    event.listen(engine, "rollback", end)


def _binary_results(_conn: Any, cursor: Any, _sql: Any, _params: Any, context: Any, _many: bool) -> None:
    if context is not None and context.execution_options.get(BINARY_RESULTS):
        from psycopg.pq import Format

        cursor.format = Format.BINARY  # this execution's cursor only: SQLAlchemy opens one each time


def make_engine(url: str, *, application_name: str | None = None, **kwargs: Any) -> Engine:
    """``application_name`` names the process in PostgreSQL's ``pg_stat_activity`` (and its log)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            pool_size=kwargs.pop("pool_size", 8),
            max_overflow=kwargs.pop("max_overflow", 16),
            **kwargs,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        _install_sqlite_transactions(engine)
        return engine
    if application_name and parsed.get_backend_name() == "postgresql":
        kwargs["connect_args"] = {"application_name": application_name[:63], **kwargs.get("connect_args", {})}
    engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **kwargs)
    if engine.dialect.driver == "psycopg":
        event.listen(engine, "before_cursor_execute", _binary_results)
    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


READS = "sanshe_reads"  # session.info key: this session only reads
LATER = "sanshe_write_later"  # session.info key: rows a read session hands to a write after it


class ReadOnlySession(Session):
    """A session that only reads: on SQLite a deferred transaction outside the writer lock (WAL
    readers see the last commit and wait for nobody); on PostgreSQL an ordinary transaction. A
    write through it is a programming error and raises at once, instead of upgrading to a write
    that would fail under load (SQLite cannot upgrade a read snapshot another writer has passed)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.info[READS] = True


def _refuse_writes(session: Session, *_: Any) -> None:
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("a read-only session was asked to write: use write_later() or a write request")


def _refuse_statements(state: Any) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        raise RuntimeError("a read-only session was asked to write: use write_later() or a write request")


event.listen(ReadOnlySession, "before_flush", _refuse_writes)
event.listen(ReadOnlySession, "do_orm_execute", _refuse_statements)


def make_read_sessionmaker(engine: Engine) -> sessionmaker[ReadOnlySession]:
    return sessionmaker(
        engine.execution_options(**{READ_ONLY: True}), class_=ReadOnlySession, expire_on_commit=False
    )


def write_later(session: Session, *rows: Any) -> None:
    """Add rows in the session's transaction, or, for a read-only session, have them written in a
    short write transaction of their own once the read is over (an access record of what a
    request read: it needs no read consistency, and the read must not take the writer lock)."""
    if session.info.get(READS):
        session.info.setdefault(LATER, []).extend(rows)
    else:
        session.add_all(rows)


def take_later(session: Session) -> list[Any]:
    return session.info.pop(LATER, [])


@contextmanager
def read_only(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for reads that must not queue behind writers (the screen pop).

    On SQLite it begins a deferred transaction outside the writer lock (WAL readers never wait);
    on PostgreSQL it is an ordinary transaction. It is rolled back at the end: write nothing.
    """
    with factory() as session:
        session.connection(execution_options={READ_ONLY: True})
        try:
            yield session
        finally:
            session.rollback()


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work for jobs and CLI commands: commit on success, roll back on error."""
    with factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


AFTER_COMMIT = "sanshe_after_commit"  # session.info key: callbacks to run once the commit is done


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the session's current transaction has committed (dropped on a
    rollback): wake a worker for a row it can only see once committed."""
    session.info.setdefault(AFTER_COMMIT, []).append(callback)


def _run_after_commit(session: Session) -> None:
    for callback in session.info.pop(AFTER_COMMIT, []):
        try:
            callback()
        except Exception:  # the commit stands: its caller must not see a failure
            logging.getLogger(__name__).exception("an after-commit callback failed")


def _drop_after_commit(session: Session) -> None:
    session.info.pop(AFTER_COMMIT, None)


event.listen(Session, "after_commit", _run_after_commit)
event.listen(Session, "after_rollback", _drop_after_commit)


_INSERT_ONE: dict[type[Any], tuple[Insert, list[tuple[str, Any]]]] = {}


def insert_one(session: Session, model: type[M], values: dict[str, Any]) -> M:
    """INSERT one row and return it as a persistent object, without the unit of work.

    For the few hot paths that write a row and go on using it (order intake): one statement
    instead of a flush, which costs several times more for a single row. ``RETURNING`` brings
    back every column, defaults included, so the object holds exactly what was stored and is in
    the session as if it had been loaded. Relationships are not set; they load when used.
    """
    found = _INSERT_ONE.get(model)
    if found is None:
        mapper = inspect(model)
        table = mapper.local_table
        columns = [(prop.key, prop.columns[0]) for prop in mapper.column_attrs]
        found = _INSERT_ONE.setdefault(model, (insert(table).returning(*table.c), columns))
    stmt, columns = found
    row = session.execute(stmt, values).one()._mapping
    facts.inserted(session, stmt.table.name, row)  # type: ignore[attr-defined]
    obj = model(**{key: row[column] for key, column in columns})
    make_transient_to_detached(obj)
    session.add(obj)
    return obj
