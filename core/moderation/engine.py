"""The SQLAlchemy engine for a database URL, with SQLite made properly transactional.

Python's sqlite3 (and aiosqlite on it) skips BEGIN before SELECT and DDL, so a read-then-write or a
migration would not be atomic; SQLAlchemy's documented fix is to emit BEGIN ourselves. IMMEDIATE
takes the write lock up front, so two processes never deadlock upgrading a read lock (which
SQLite reports as "database is locked" at once, without waiting out the busy timeout). WAL lets
readers in other processes carry on while one writes.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.util import await_only

WAL_ATTEMPTS = 200  # 10 s of 50 ms waits


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
        _switch_to_wal(cursor)
    finally:
        cursor.close()


def _switch_to_wal(cursor: Any) -> None:
    """WAL, once per database file; retried while another process holds the file.

    Changing the journal mode needs the file to itself and SQLite answers "database is locked" at
    once rather than waiting out the busy timeout, so processes opening a new database together
    would fail. The wait is an asyncio sleep (we run inside SQLAlchemy's greenlet bridge).
    """
    for attempt in range(WAL_ATTEMPTS):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == WAL_ATTEMPTS - 1:
                raise
            await_only(asyncio.sleep(0.05))


def _on_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")
