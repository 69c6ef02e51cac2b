"""The store's per-chat bookkeeping: policies, processed-message claims and scan counts."""

from __future__ import annotations

import sqlalchemy as sa

from core.moderation import schema as s
from core.moderation.codec import policy_from_json, policy_to_json
from core.moderation.policy import default_policy
from core.moderation.store_base import StoreBase, of_chat
from core.moderation.types import ChatKey, ChatPolicy


class ChatQueries(StoreBase):
    async def policy(self, chat: ChatKey, *, private: bool) -> ChatPolicy:
        query = sa.select(s.chat_policies.c.policy).where(*of_chat(s.chat_policies, chat))
        async with self._engine.begin() as conn:
            text = await conn.scalar(query)
        return default_policy(private, **self._bands) if text is None else policy_from_json(text)

    async def save_policy(self, chat: ChatKey, policy: ChatPolicy) -> None:
        values = {"policy": policy_to_json(policy), "updated_at": self._clock()}
        insert = self._insert(s.chat_policies).values(
            platform=chat.platform, chat=chat.chat, **values
        )
        upsert = insert.on_conflict_do_update(index_elements=["platform", "chat"], set_=values)
        async with self._engine.begin() as conn:
            await conn.execute(upsert)

    async def claim(self, chat: ChatKey, message: str) -> bool:
        insert = self._insert(s.processed_messages).values(
            platform=chat.platform, chat=chat.chat, message=message, seen_at=self._clock()
        )
        async with self._engine.begin() as conn:
            result = await conn.execute(insert.on_conflict_do_nothing())
        return bool(result.rowcount == 1)

    async def count_scanned(self, chat: ChatKey, images: int) -> None:
        if images <= 0:
            return
        table = s.scan_counts
        insert = self._insert(table).values(
            platform=chat.platform, chat=chat.chat, day=s.day_of(self._clock()), count=images
        )
        upsert = insert.on_conflict_do_update(
            index_elements=["platform", "chat", "day"], set_={"count": table.c.count + images}
        )
        async with self._engine.begin() as conn:
            await conn.execute(upsert)
