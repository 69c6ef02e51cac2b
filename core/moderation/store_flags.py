"""The store's flags: raising one, its mod-log post, a moderator's review, and the counts."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from core.moderation import schema as s
from core.moderation.codec import actions_to_text, flag_from_row
from core.moderation.store_base import StoreBase, of_chat
from core.moderation.types import ChatKey, ChatStats, Flag, FlagStatus, NewFlag


class FlagQueries(StoreBase):
    async def add_flag(self, flag: NewFlag) -> Flag:
        created = self._clock()
        values = {
            "platform": flag.chat.platform,
            "chat": flag.chat.chat,
            "channel": flag.channel,
            "message": flag.message,
            "author": flag.author,
            "sha256": flag.sha256,
            "fake_probability": flag.fake_probability,
            "actions": actions_to_text(flag.actions),
            "status": FlagStatus.OPEN.value,
            "created_at": created,
        }
        async with self._engine.begin() as conn:
            result = await conn.execute(sa.insert(s.flags).values(**values))
            (flag_id,) = result.inserted_primary_key or (None,)
        if flag_id is None:
            raise RuntimeError("the database returned no id for a new flag; this is a bug")
        return Flag(id=int(flag_id), flag=flag, status=FlagStatus.OPEN, created_at=created)

    async def set_modlog_message(self, flag_id: int, message: str) -> None:
        update = sa.update(s.flags).where(s.flags.c.id == flag_id).values(modlog_message=message)
        async with self._engine.begin() as conn:
            await conn.execute(update)

    async def get_flag(self, flag_id: int) -> Flag | None:
        async with self._engine.begin() as conn:
            row = (await conn.execute(sa.select(s.flags).where(s.flags.c.id == flag_id))).first()
        return None if row is None else flag_from_row(row._mapping)

    async def review(self, flag_id: int, status: FlagStatus, reviewer: str) -> Flag | None:
        if status is FlagStatus.OPEN:
            raise ValueError("a review confirms or dismisses a flag")
        update = (
            sa.update(s.flags)
            .where(s.flags.c.id == flag_id, s.flags.c.status == FlagStatus.OPEN.value)
            .values(status=status.value, reviewer=reviewer, reviewed_at=self._clock())
        )
        async with self._engine.begin() as conn:
            if (await conn.execute(update)).rowcount != 1:
                return None  # unknown, or another moderator got there first
            row = (await conn.execute(sa.select(s.flags).where(s.flags.c.id == flag_id))).one()
        return flag_from_row(row._mapping)

    async def stats(self, chat: ChatKey, since: datetime) -> ChatStats:
        """Counts over flags created since `since`; scans counted per UTC day from its day on."""
        counts = s.scan_counts
        scanned = sa.select(sa.func.coalesce(sa.func.sum(counts.c.count), 0)).where(
            *of_chat(counts, chat), counts.c.day >= s.day_of(since)
        )
        by_status = (
            sa.select(s.flags.c.status, sa.func.count())
            .where(*of_chat(s.flags, chat), s.flags.c.created_at >= since)
            .group_by(s.flags.c.status)
        )
        async with self._engine.begin() as conn:
            images = int(await conn.scalar(scanned) or 0)
            statuses: dict[str, int] = {
                str(status): int(n) for status, n in (await conn.execute(by_status)).all()
            }
        return ChatStats(
            scanned=images,
            flagged=sum(statuses.values()),
            confirmed=statuses.get(FlagStatus.CONFIRMED.value, 0),
            dismissed=statuses.get(FlagStatus.DISMISSED.value, 0),
            extra={"open": statuses.get(FlagStatus.OPEN.value, 0)},
        )
