"""`SqlStore.move` (a chat's id changed) and a new chat's bands, on SQLite and PostgreSQL.

Uses the database fixtures of tests/core/test_store.py, so PostgreSQL runs when
DEEPGUARD_TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

from datetime import timedelta

from core.moderation.policy import default_policy
from core.moderation.store import SqlStore
from core.moderation.types import ChatKey, ChatPolicy, ChatStats, Mode
from tests.core import test_store as base
from tests.core.test_store import START, Clock, new_flag

# The database fixtures, shared (pytest finds fixtures by their name in this module).
db_url, clock, open_store, db = base.db_url, base.clock, base.open_store, base.db

BASIC = ChatKey("telegram", "-4001")  # a basic group...
SUPER = ChatKey("telegram", "-1004001")  # ...upgraded to a supergroup
MONTH_AGO = START - timedelta(days=30)


class TestMove:
    async def test_policy_flags_and_counts_follow_the_new_id(self, db: SqlStore) -> None:
        """After a move the new id has the old policy, flags and counts; the old id has none."""
        policy = ChatPolicy(mode=Mode.FLAG_ONLY, threshold=0.6, modlog="-100777")
        await db.save_policy(BASIC, policy)
        flag = await db.add_flag(new_flag(chat=BASIC))
        await db.count_scanned(BASIC, 4)
        await db.move(BASIC, SUPER)
        assert await db.policy(SUPER, private=False) == policy
        assert await db.policy(BASIC, private=False) == default_policy(False)
        moved = await db.get_flag(flag.id)
        assert moved is not None
        assert moved.flag.chat == SUPER
        assert moved.flag.message == flag.flag.message
        assert await db.stats(SUPER, MONTH_AGO) == ChatStats(
            scanned=4, flagged=1, extra={"open": 1}
        )
        assert await db.stats(BASIC, MONTH_AGO) == ChatStats(extra={"open": 0})

    async def test_counts_merge_and_the_old_policy_wins(self, db: SqlStore, clock: Clock) -> None:
        """Counts of the same day add up; the moderators' policy replaces a newer default."""
        await db.save_policy(BASIC, ChatPolicy(mode=Mode.OFF))
        await db.save_policy(SUPER, ChatPolicy(mode=Mode.REPLY_ALL))
        await db.count_scanned(BASIC, 2)
        await db.count_scanned(SUPER, 1)
        clock.advance(days=-1)
        await db.count_scanned(BASIC, 5)
        await db.move(BASIC, SUPER)
        assert (await db.stats(SUPER, MONTH_AGO)).scanned == 8
        assert (await db.stats(SUPER, START)).scanned == 3
        assert (await db.policy(SUPER, private=False)).mode is Mode.OFF

    async def test_processed_keys_stay_and_a_second_move_changes_nothing(
        self, db: SqlStore
    ) -> None:
        """Old message keys are not carried over (new ids start afresh); moving twice is harmless."""
        await db.claim(BASIC, "5:command")
        await db.save_policy(BASIC, ChatPolicy(mode=Mode.OFF))
        await db.move(BASIC, SUPER)
        await db.save_policy(SUPER, ChatPolicy(mode=Mode.FLAG_ONLY))
        await db.move(BASIC, SUPER)  # the other service message of the same upgrade
        assert await db.claim(SUPER, "5:command")
        assert not await db.claim(BASIC, "5:command")
        assert (await db.policy(SUPER, private=False)).mode is Mode.FLAG_ONLY

    async def test_other_chats_are_untouched(self, db: SqlStore) -> None:
        """Only the moved chat changes: the same id on another platform keeps its data."""
        elsewhere = ChatKey("discord", BASIC.chat)
        await db.save_policy(elsewhere, ChatPolicy(mode=Mode.OFF))
        kept = await db.add_flag(new_flag(chat=elsewhere))
        await db.move(BASIC, SUPER)
        assert (await db.policy(elsewhere, private=False)).mode is Mode.OFF
        assert (flag := await db.get_flag(kept.id)) is not None
        assert flag.flag.chat == elsewhere


class TestNewChatBands:
    async def test_a_new_chat_starts_with_the_operators_bands(
        self, db_url: str, clock: Clock
    ) -> None:
        """The bands given at open are a new chat's threshold and uncertain band; saved ones stay."""
        async with SqlStore.open(db_url, clock=clock, threshold=0.9, uncertain_from=0.1) as store:
            await store.save_policy(SUPER, ChatPolicy(threshold=0.5))
            assert await store.policy(BASIC, private=False) == default_policy(
                False, threshold=0.9, uncertain_from=0.1
            )
            fresh = await store.policy(ChatKey("telegram", "42"), private=True)
            assert (fresh.threshold, fresh.uncertain_from) == (0.9, 0.1)
            assert (await store.policy(SUPER, private=False)).threshold == 0.5

    async def test_a_new_chat_starts_with_the_operators_declared_choice(
        self, db_url: str, clock: Clock
    ) -> None:
        """`declared_ai_is_fake` given at open is a new chat's; a chat's own choice stays."""
        async with SqlStore.open(db_url, clock=clock, declared_ai_is_fake=False) as store:
            await store.save_policy(SUPER, ChatPolicy(declared_ai_is_fake=True))
            assert not (await store.policy(BASIC, private=False)).declared_ai_is_fake
            changed = await store.change_policy(ChatKey("telegram", "7"), lambda p: p)
            assert changed is not None
            assert not changed.declared_ai_is_fake
            assert (await store.policy(SUPER, private=False)).declared_ai_is_fake
