"""The moderation database: how it is opened, its tables, and the versioned steps that build them.

Python's sqlite3 (and aiosqlite on it) skips BEGIN before SELECT and DDL, so a read-then-write or a
migration would not be atomic; SQLAlchemy's documented fix is to emit BEGIN ourselves. IMMEDIATE
takes the write lock up front, so two processes never deadlock upgrading a read lock (which
SQLite reports as "database is locked" at once, without waiting out the busy timeout). WAL lets
readers in other processes carry on while one writes.

Each migration runs once, in order, and is recorded in `schema_version`. All pending steps run in
one transaction that first takes a database-wide lock (a PostgreSQL advisory lock; SQLite's write
lock, taken by BEGIN IMMEDIATE), so processes starting together apply each step exactly once.
A new schema version appends a step; a released step is never edited.
No table ever holds image bytes: a flag keeps the image's SHA-256 only.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.util import await_only

WAL_ATTEMPTS = 200  # 10 s of 50 ms waits
ID = sa.String()  # opaque platform ids, unbounded so no backend truncates or refuses one


class UtcDateTime(sa.TypeDecorator[datetime]):
    """An aware UTC datetime on every backend (SQLite has no time zones: it stores UTC naive)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("a stored time must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = sa.MetaData()

schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("applied_at", UtcDateTime, nullable=False),
)

chat_policies = sa.Table(
    "chat_policies",
    metadata,
    sa.Column("platform", sa.String(16), primary_key=True),
    sa.Column("chat", ID, primary_key=True),
    sa.Column("policy", sa.Text, nullable=False),  # JSON, see core.moderation.store
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

flags = sa.Table(
    "flags",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("platform", sa.String(16), nullable=False),
    sa.Column("chat", ID, nullable=False),
    sa.Column("channel", ID, nullable=False),
    sa.Column("message", ID, nullable=False),
    sa.Column("author", ID, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("fake_probability", sa.Float, nullable=False),
    sa.Column("actions", sa.String(128), nullable=False),  # comma-separated Action values
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reviewer", ID, nullable=True),
    sa.Column("reviewed_at", UtcDateTime, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("modlog_message", ID, nullable=True),
    sa.Column("reported_at", UtcDateTime, nullable=True),  # the poster said it is a mistake
    sa.Index("flags_chat_created", "platform", "chat", "created_at"),
    sa.Index("flags_status_reviewed", "status", "reviewed_at"),
)

processed_messages = sa.Table(
    "processed_messages",
    metadata,
    sa.Column("platform", sa.String(16), primary_key=True),
    sa.Column("chat", ID, primary_key=True),
    sa.Column("message", ID, primary_key=True),
    sa.Column("seen_at", UtcDateTime, nullable=False),
    sa.Index("processed_seen", "seen_at"),
)

scan_counts = sa.Table(
    "scan_counts",
    metadata,
    sa.Column("platform", sa.String(16), primary_key=True),
    sa.Column("chat", ID, primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
)

CHAT_TABLES = (chat_policies, flags, processed_messages, scan_counts)


def _v1_tables(conn: Connection) -> None:
    metadata.create_all(conn, tables=list(CHAT_TABLES))


def _v2_flag_reports(conn: Connection) -> None:
    """Flags keep when their poster reported them as a mistake."""
    # Version 1 creates the tables as defined above, so a database created since has it.
    if "reported_at" in {column["name"] for column in sa.inspect(conn).get_columns("flags")}:
        return
    kind = flags.c.reported_at.type.compile(dialect=conn.dialect)
    conn.execute(sa.text(f"ALTER TABLE flags ADD COLUMN reported_at {kind}"))


Migration = Callable[[Connection], Any]

# Step N brings the schema to version N. Append only.
MIGRATIONS: tuple[Migration, ...] = (_v1_tables, _v2_flag_reports)

LATEST = len(MIGRATIONS)
_ADVISORY_LOCK = 0x6465_6570_6775  # "deepgu": any constant no other application uses


def migrate(conn: Connection, now: datetime) -> list[int]:
    """Apply the steps this database lacks, inside the caller's transaction; their versions."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_ADVISORY_LOCK)))
    schema_version.create(conn, checkfirst=True)
    done = set(conn.scalars(sa.select(schema_version.c.version)))
    if done and max(done) > LATEST:
        raise RuntimeError(
            f"the database schema is version {max(done)}, newer than this DeepGuard knows"
            f" ({LATEST}); upgrade DeepGuard"
        )
    applied = []
    for version, step in enumerate(MIGRATIONS, start=1):
        if version in done:
            continue
        step(conn)
        conn.execute(sa.insert(schema_version).values(version=version, applied_at=now))
        applied.append(version)
    return applied


def day_of(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


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
