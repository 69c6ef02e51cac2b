"""In-memory `ModerationStore`s for adapter tests: one that always answers, one whose database
can go away and come back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from core.errors import StoreUnavailable
from core.moderation.types import ChatKey, ChatPolicy, ChatStats, Flag, FlagStatus, Mode, NewFlag


class MemoryStore:
    """Keeps everything in dicts; a new chat gets the reply-all policy of today's bot."""

    def __init__(self) -> None:
        self.policies: dict[ChatKey, ChatPolicy] = {}
        self.claimed: set[tuple[ChatKey, str]] = set()
        self.scanned: dict[ChatKey, int] = {}
        self.flags: dict[int, Flag] = {}

    async def policy(self, chat: ChatKey, *, private: bool) -> ChatPolicy:
        return self.policies.get(chat, ChatPolicy(mode=Mode.REPLY_ALL))

    async def save_policy(self, chat: ChatKey, policy: ChatPolicy) -> None:
        self.policies[chat] = policy

    async def change_policy(
        self,
        chat: ChatKey,
        change: Callable[[ChatPolicy], ChatPolicy | None],
        *,
        private: bool = False,
    ) -> ChatPolicy | None:
        changed = change(await self.policy(chat, private=private))  # no await in between
        if changed is not None:
            self.policies[chat] = changed
        return changed

    async def claim(self, chat: ChatKey, message: str) -> bool:
        if (chat, message) in self.claimed:
            return False
        self.claimed.add((chat, message))
        return True

    async def count_scanned(self, chat: ChatKey, images: int) -> None:
        self.scanned[chat] = self.scanned.get(chat, 0) + images

    async def add_flag(self, flag: NewFlag) -> Flag:
        made = Flag(len(self.flags) + 1, flag, FlagStatus.OPEN, datetime.now(UTC))
        self.flags[made.id] = made
        return made

    async def set_modlog_message(self, flag_id: int, message: str) -> None:
        self.flags[flag_id] = replace(self.flags[flag_id], modlog_message=message)

    async def get_flag(self, flag_id: int) -> Flag | None:
        return self.flags.get(flag_id)

    async def review(self, flag_id: int, status: FlagStatus, reviewer: str) -> Flag | None:
        flag = self.flags.get(flag_id)
        if flag is None or flag.status is not FlagStatus.OPEN:
            return None
        now = datetime.now(UTC)
        self.flags[flag_id] = replace(flag, status=status, reviewer=reviewer, reviewed_at=now)
        return self.flags[flag_id]

    async def report(self, flag_id: int) -> bool:
        flag = self.flags.get(flag_id)
        if flag is None or flag.reported_at is not None:
            return False
        self.flags[flag_id] = replace(flag, reported_at=datetime.now(UTC))
        return True

    async def stats(self, chat: ChatKey, since: datetime) -> ChatStats:
        mine = [f for f in self.flags.values() if f.flag.chat == chat and f.created_at >= since]
        return ChatStats(
            scanned=self.scanned.get(chat, 0),
            flagged=len(mine),
            confirmed=sum(f.status is FlagStatus.CONFIRMED for f in mine),
            dismissed=sum(f.status is FlagStatus.DISMISSED for f in mine),
            reported=sum(f.reported_at is not None for f in mine),
        )

    async def purge(self, now: datetime) -> int:
        return 0

    async def forget(self, chat: ChatKey) -> None:
        self.policies.pop(chat, None)
        self.scanned.pop(chat, None)
        self.claimed = {key for key in self.claimed if key[0] != chat}
        self.flags = {i: f for i, f in self.flags.items() if f.flag.chat != chat}

    async def move(self, old: ChatKey, new: ChatKey) -> None:
        if old in self.policies:
            self.policies[new] = self.policies.pop(old)
        if old in self.scanned:
            self.scanned[new] = self.scanned.get(new, 0) + self.scanned.pop(old)
        self.flags = {
            i: replace(f, flag=replace(f.flag, chat=new)) if f.flag.chat == old else f
            for i, f in self.flags.items()
        }


class OutageStore(MemoryStore):
    """A `MemoryStore` whose database can go away: while `down`, every call raises
    `StoreUnavailable` (as `SqlStore` does when it cannot reach its database) and changes
    nothing; set `down` back to False and it answers again with what it had."""

    def __init__(self, *, down: bool = False) -> None:
        super().__init__()
        self.down = down
        self.refused = 0  # calls refused while down

    def _reach(self) -> None:
        if self.down:
            self.refused += 1
            raise StoreUnavailable()

    async def policy(self, chat: ChatKey, *, private: bool) -> ChatPolicy:
        self._reach()
        return await super().policy(chat, private=private)

    async def save_policy(self, chat: ChatKey, policy: ChatPolicy) -> None:
        self._reach()
        await super().save_policy(chat, policy)

    async def change_policy(
        self,
        chat: ChatKey,
        change: Callable[[ChatPolicy], ChatPolicy | None],
        *,
        private: bool = False,
    ) -> ChatPolicy | None:
        self._reach()
        return await super().change_policy(chat, change, private=private)

    async def claim(self, chat: ChatKey, message: str) -> bool:
        self._reach()
        return await super().claim(chat, message)

    async def count_scanned(self, chat: ChatKey, images: int) -> None:
        self._reach()
        await super().count_scanned(chat, images)

    async def add_flag(self, flag: NewFlag) -> Flag:
        self._reach()
        return await super().add_flag(flag)

    async def set_modlog_message(self, flag_id: int, message: str) -> None:
        self._reach()
        await super().set_modlog_message(flag_id, message)

    async def get_flag(self, flag_id: int) -> Flag | None:
        self._reach()
        return await super().get_flag(flag_id)

    async def review(self, flag_id: int, status: FlagStatus, reviewer: str) -> Flag | None:
        self._reach()
        return await super().review(flag_id, status, reviewer)

    async def stats(self, chat: ChatKey, since: datetime) -> ChatStats:
        self._reach()
        return await super().stats(chat, since)

    async def purge(self, now: datetime) -> int:
        self._reach()
        return await super().purge(now)

    async def forget(self, chat: ChatKey) -> None:
        self._reach()
        await super().forget(chat)

    async def move(self, old: ChatKey, new: ChatKey) -> None:
        self._reach()
        await super().move(old, new)
