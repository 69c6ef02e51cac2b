"""SQLite made transactional: a real BEGIN IMMEDIATE for every transaction, WAL journaling.

Python's sqlite3 (and aiosqlite on it) skips BEGIN before SELECT and DDL, so a read-then-write or a
migration would not be atomic; SQLAlchemy's documented fix is to emit BEGIN ourselves. IMMEDIATE
takes the write lock up front, so two processes never deadlock upgrading a read lock (which
SQLite reports as "database is locked" at once, without waiting out the busy timeout). WAL lets
readers in other processes carry on while one writes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine


def prepare_sqlite(engine: AsyncEngine) -> None:
    event.listen(engine.sync_engine, "connect", _on_connect)
    event.listen(engine.sync_engine, "begin", _on_begin)


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # the driver's own BEGIN handling off
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
    finally:
        cursor.close()


def _on_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")
