"""What every part of `SqlStore` shares: the engine, the clock and the dialect's upsert."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from core.moderation.types import ChatKey

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def of_chat(table: sa.Table, chat: ChatKey) -> tuple[sa.ColumnElement[bool], ...]:
    """The WHERE clauses that pick `chat`'s rows of a per-chat table."""
    return (table.c.platform == chat.platform, table.c.chat == chat.chat)


class StoreBase:
    """The state the store's query groups share; `SqlStore` combines the groups."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        retention_days: int,
        clock: Clock,
        threshold: float = 0.7,
        uncertain_from: float = 0.3,
    ) -> None:
        self._engine = engine
        self._bands = {"threshold": threshold, "uncertain_from": uncertain_from}
        self._retention = timedelta(days=retention_days)
        self._clock = clock
        postgres = engine.dialect.name == "postgresql"
        self._insert: Any = postgresql.insert if postgres else sqlite.insert  # both upsert
