"""A poster's report that a flag is a mistake, kept by the store and counted, on SQLite and
PostgreSQL, and the migration that adds it to a database made before reports were kept.

Uses the database fixtures of tests/core/test_store.py.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from core.moderation import schema
from core.moderation.store import SqlStore
from core.moderation.types import FlagStatus
from tests.core import test_store as base
from tests.core.test_store import CHAT, OTHER, START, Clock, Opener, new_flag

# The database fixtures, shared (pytest finds fixtures by their name in this module).
db_url, clock, open_store, db = base.db_url, base.clock, base.open_store, base.db

WEEK_AGO = START - timedelta(days=7)


class TestReports:
    async def test_a_report_is_kept_once_on_its_flag(self, db: SqlStore, clock: Clock) -> None:
        """The first report is recorded with its time; a second one changes nothing."""
        flag = await db.add_flag(new_flag())
        clock.advance(minutes=5)
        assert await db.report(flag.id)
        clock.advance(minutes=5)
        assert not await db.report(flag.id)
        reported = await db.get_flag(flag.id)
        assert reported is not None
        assert reported.reported_at == START + timedelta(minutes=5)
        assert reported.status is FlagStatus.OPEN

    async def test_an_unknown_flag_is_not_reported(self, db: SqlStore) -> None:
        assert not await db.report(12345)

    async def test_reports_are_counted_in_stats_per_chat(self, db: SqlStore) -> None:
        """Stats count the chat's reported flags beside the flagged, confirmed and dismissed."""
        first = await db.add_flag(new_flag(message="m1"))
        second = await db.add_flag(new_flag(message="m2"))
        elsewhere = await db.add_flag(new_flag(chat=OTHER))
        for flag in (first, second, elsewhere):
            await db.report(flag.id)
        await db.review(second.id, FlagStatus.DISMISSED, "mod")
        stats = await db.stats(CHAT, WEEK_AGO)
        assert (stats.flagged, stats.dismissed, stats.reported) == (2, 1, 2)
        assert (await db.stats(OTHER, WEEK_AGO)).reported == 1


class TestReportsMigration:
    async def test_a_database_without_reports_gets_them_and_keeps_its_flags(
        self, db_url: str, open_store: Opener
    ) -> None:
        """A flag stored by a version without reports can be reported after the upgrade."""
        await _create_version_1(db_url)
        async with open_store() as db:
            assert await db.schema_versions() == list(range(1, schema.LATEST + 1))
            old = await db.get_flag(1)
            assert old is not None
            assert old.reported_at is None
            assert await db.report(1)
            assert (await db.stats(CHAT, WEEK_AGO)).reported == 1


async def _create_version_1(url: str) -> None:
    """The schema of version 1 (flags without `reported_at`), with one flag in it."""
    engine = create_async_engine(url)
    flag = _flag_row()
    columns = ", ".join(flag)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(schema.metadata.create_all)
            await conn.execute(sa.text("ALTER TABLE flags DROP COLUMN reported_at"))
            versions = schema.schema_version.insert().values(version=1, applied_at=START)
            await conn.execute(versions)
            insert = f"INSERT INTO flags ({columns}) VALUES ({', '.join(':' + c for c in flag)})"
            await conn.execute(
                sa.text(insert).bindparams(sa.bindparam("created_at", type_=schema.UtcDateTime)),
                flag,
            )
    finally:
        await engine.dispose()


def _flag_row() -> dict[str, object]:
    made = new_flag()
    return {
        "id": 1,
        "platform": made.chat.platform,
        "chat": made.chat.chat,
        "channel": made.channel,
        "message": made.message,
        "author": made.author,
        "sha256": made.sha256,
        "fake_probability": made.fake_probability,
        "actions": "modlog,react",
        "status": FlagStatus.OPEN.value,
        "created_at": START,
    }
