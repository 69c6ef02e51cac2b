"""The store's upkeep: retention, forgetting a chat, and following a chat to a new id."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from core.moderation import schema as s
from core.moderation.store_base import StoreBase, of_chat
from core.moderation.types import ChatKey, FlagStatus

STATS_DAYS_KEPT = 31  # daily scan counts outlive a shorter retention: /stats shows 30 days


class UpkeepQueries(StoreBase):
    async def purge(self, now: datetime) -> int:
        cutoff = now - self._retention
        closed = (FlagStatus.CONFIRMED.value, FlagStatus.DISMISSED.value)
        statements = (
            sa.delete(s.processed_messages).where(s.processed_messages.c.seen_at < cutoff),
            sa.delete(s.flags).where(s.flags.c.status.in_(closed), s.flags.c.reviewed_at < cutoff),
            sa.delete(s.scan_counts).where(
                s.scan_counts.c.day < s.day_of(min(cutoff, now - timedelta(STATS_DAYS_KEPT)))
            ),
        )
        async with self._engine.begin() as conn:
            gone = [(await conn.execute(statement)).rowcount for statement in statements]
        return sum(gone)

    async def forget(self, chat: ChatKey) -> None:
        async with self._engine.begin() as conn:
            for table in s.CHAT_TABLES:
                await conn.execute(sa.delete(table).where(*of_chat(table, chat)))

    async def move(self, old: ChatKey, new: ChatKey) -> None:
        """Policy, flags and scan counts of `old` now belong to `new` (the chat's id changed).

        The old chat's policy wins over one the new id may already have (moderators chose
        it); daily counts of the same day add up. Processed-message keys stay with the old
        id: they name the old chat's messages, and a new chat's message ids start afresh.
        """
        if old == new:
            return
        counts = s.scan_counts
        merged = self._insert(counts).from_select(
            ["platform", "chat", "day", "count"],
            sa.select(
                sa.literal(new.platform), sa.literal(new.chat), counts.c.day, counts.c.count
            ).where(*of_chat(counts, old)),
        )
        merged = merged.on_conflict_do_update(
            index_elements=["platform", "chat", "day"],
            set_={"count": counts.c.count + merged.excluded.count},
        )
        policies, renamed = s.chat_policies, {"platform": new.platform, "chat": new.chat}
        async with self._engine.begin() as conn:
            if await conn.scalar(sa.select(policies.c.policy).where(*of_chat(policies, old))):
                await conn.execute(sa.delete(policies).where(*of_chat(policies, new)))
                await conn.execute(
                    sa.update(policies).where(*of_chat(policies, old)).values(renamed)
                )
            await conn.execute(sa.update(s.flags).where(*of_chat(s.flags, old)).values(renamed))
            await conn.execute(merged)
            await conn.execute(sa.delete(counts).where(*of_chat(counts, old)))
