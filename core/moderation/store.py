"""`SqlStore`: moderation state in SQLite (one process) or PostgreSQL (several), via SQLAlchemy.

Every method is one short transaction, so processes sharing a database never see half a change;
`claim` is a single INSERT ... ON CONFLICT DO NOTHING, which the database makes atomic. The
queries live in three groups: per-chat bookkeeping (store_chats), flags and their counts
(store_flags), and upkeep (store_upkeep).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa

from core.moderation import schema as s
from core.moderation.engine import open_engine
from core.moderation.store_base import Clock, utc_now
from core.moderation.store_chats import ChatQueries
from core.moderation.store_flags import FlagQueries
from core.moderation.store_upkeep import UpkeepQueries

log = logging.getLogger(__name__)


class SqlStore(ChatQueries, FlagQueries, UpkeepQueries):
    """The `ModerationStore` on a SQLAlchemy async engine; build it with `SqlStore.open`."""

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        url: str,
        *,
        retention_days: int = 30,
        clock: Clock = utc_now,
        threshold: float = 0.7,
        uncertain_from: float = 0.3,
    ) -> AsyncIterator[SqlStore]:
        """Connect, bring the schema up to date, and close the connections on exit.

        `threshold` and `uncertain_from` are the bands a chat nobody configured starts with
        (the operator's reply settings: likely AI-generated from, likely real below).
        """
        engine = open_engine(url)
        try:
            async with engine.begin() as conn:
                applied = await conn.run_sync(s.migrate, clock())
            if applied:
                log.info("moderation database migrated to version %d", applied[-1])
            yield cls(
                engine,
                retention_days=retention_days,
                clock=clock,
                threshold=threshold,
                uncertain_from=uncertain_from,
            )
        finally:
            await engine.dispose()

    async def schema_versions(self) -> list[int]:
        async with self._engine.connect() as conn:
            rows = await conn.scalars(sa.select(s.schema_version.c.version).order_by("version"))
            return list(rows)
