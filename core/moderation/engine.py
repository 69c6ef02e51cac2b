"""The SQLAlchemy engine for a database URL, with SQLite made properly transactional.

Python's sqlite3 (and aiosqlite on it) skips BEGIN before SELECT and DDL, so a read-then-write or a
migration would not be atomic; SQLAlchemy's documented fix is to emit BEGIN ourselves. IMMEDIATE
takes the write lock up front, so two processes never deadlock upgrading a read lock (which
SQLite reports as "database is locked" at once, without waiting out the busy timeout). WAL lets
readers in other processes carry on while one writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def open_engine(url: str) -> AsyncEngine:
    """An engine for `url`; a SQLite file's directory is created when missing."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_async_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    # Wait up to 30 s for another process's write instead of failing at once.
    engine = create_async_engine(url, connect_args={"timeout": 30})
    event.listen(engine.sync_engine, "connect", _on_connect)
    event.listen(engine.sync_engine, "begin", _on_begin)
    return engine


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # the driver's own BEGIN handling off
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
    finally:
        cursor.close()


def _on_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")
