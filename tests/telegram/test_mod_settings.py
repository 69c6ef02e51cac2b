"""Telegram moderation end to end, part three: /settings and its buttons, /stats, /forget.

Real PTB client, fake Bot API (administrators chosen per test), tiny model, SQLite store.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bots import replies
from config import Settings
from core.detector import Detector
from core.moderation.store import SqlStore
from core.moderation.types import Action, ChatKey, ChatPolicy, Mode
from tests.sample_images import image_bytes
from tests.telegram.fake_telegram_mod import (
    ADMIN,
    GROUP,
    MEMBER,
    MODLOG,
    ModFake,
    buttons,
    isolated_mod_fake,
    texts,
)
from tests.telegram.telegram_harness import bot_settings, running_bot

pytestmark = pytest.mark.slow

KEY = ChatKey("telegram", str(GROUP))


fake = pytest.fixture(isolated_mod_fake)


class OverlappingReads(SqlStore):
    """The real store, but a policy read waits (up to a moment) for a second one to be in
    flight: the interleaving in which a read-modify-write loses one of two changes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._reading = 0
        self._both = asyncio.Event()

    async def policy(self, chat: ChatKey, *, private: bool) -> ChatPolicy:
        read = await super().policy(chat, private=private)
        self._reading += 1
        if self._reading == 2:
            self._both.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._both.wait(), 0.5)
        self._reading -= 1
        if not self._reading:
            self._both.clear()
        return read


@pytest.fixture
async def racy_store(store_url: str) -> AsyncIterator[OverlappingReads]:
    async with OverlappingReads.open(store_url) as opened:
        yield opened


class TestSettings:
    async def test_only_administrators_may_configure(
        self, fake: ModFake, settings: Settings, detector: Detector, store: SqlStore
    ) -> None:
        """A member's /settings is refused; an admin's and an anonymous admin's are applied."""
        async with running_bot(fake, bot_settings(settings, fake), detector, store=store):
            refusal, by_admin, by_anonymous = await fake.ask(
                fake.group_command("/settings threshold 0.1", user_id=MEMBER),
                fake.group_command("/settings threshold 0.8"),
                fake.anonymous_command("/settings exempt 77"),
            )
        assert refusal == replies.ADMINS_ONLY
        assert "80%" in by_admin
        assert "exempt users: 1" in by_anonymous
        policy = await store.policy(KEY, private=False)
        assert (policy.threshold, policy.exempt_users) == (0.8, frozenset({"77"}))

    async def test_buttons_change_mode_and_actions_for_admins_only(
        self, fake: ModFake, settings: Settings, detector: Detector, store: SqlStore
    ) -> None:
        """Pressing flag-only and delete saves both; a member's press is answered and ignored."""
        async with running_bot(fake, bot_settings(settings, fake), detector, store=store):
            fake.push(fake.group_command("/settings"))
            [panel] = await fake.wait_posted(GROUP)
            fake.press(panel, "dgs:act:delete", user_id=MEMBER)
            await fake.wait_for("answerCallbackQuery")
            fake.press(panel, "dgs:mode:flag-only", user_id=ADMIN)
            await fake.wait_for("editMessageText")
            fake.press(panel, "dgs:act:delete", user_id=ADMIN)
            await fake.wait_for("editMessageText", 2)
        assert buttons(panel)["• reply-all"] == "dgs:mode:reply-all"
        assert fake.callback_answers()[0] == replies.ADMINS_ONLY
        policy = await store.policy(KEY, private=False)
        assert policy.mode is Mode.FLAG_ONLY
        assert policy.explicit_mode
        assert Action.DELETE in policy.actions
        last = fake.sent("editMessageText")[-1]
        keyboard = {b["text"] for row in last["reply_markup"]["inline_keyboard"] for b in row}
        assert {"• flag-only", "✓ delete"} <= keyboard

    async def test_modlog_must_be_reachable_and_switches_a_new_group_to_flag_only(
        self, fake: ModFake, settings: Settings, detector: Detector, store: SqlStore
    ) -> None:
        """A mod-log the bot cannot post in is refused; a reachable one is greeted and saved."""
        fake.fail("sendMessage", 403, "Forbidden: bot is not a member of the group chat")
        async with running_bot(fake, bot_settings(settings, fake), detector, store=store):
            refused, saved, usage = await fake.ask(
                fake.group_command(f"/settings modlog {MODLOG}"),
                fake.group_command(f"/settings modlog {MODLOG}"),
                fake.group_command("/settings colour blue"),
            )
        assert refused == replies.MODLOG_UNREACHABLE
        assert "mode: flag-only" in saved
        assert usage == replies.SETTINGS_USAGE
        assert texts(fake, MODLOG) == [replies.modlog_hello("Test group")]
        policy = await store.policy(KEY, private=False)
        assert (policy.modlog, policy.mode) == (str(MODLOG), Mode.FLAG_ONLY)

    async def test_a_percent_sign_always_means_percent(
        self, fake: ModFake, settings: Settings, detector: Detector, store: SqlStore
    ) -> None:
        """`1%` and `1 %` are one percent, `80` is 80 %, `0.5` a half; nonsense gets an example."""
        thresholds = []
        async with running_bot(fake, bot_settings(settings, fake), detector, store=store):
            for typed in ("1%", "1 %", "80", "0.5", "80 %"):
                await fake.ask(fake.group_command(f"/settings threshold {typed}"))
                thresholds.append((await store.policy(KEY, private=False)).threshold)
            refusals = await fake.ask(
                fake.group_command("/settings threshold lots"),
                fake.group_command("/settings uncertain 150"),
            )
        assert thresholds == pytest.approx([0.01, 0.01, 0.8, 0.5, 0.8])
        assert refusals == [
            replies.percent_refused("threshold"),
            replies.percent_refused("uncertain"),
        ]
        assert "80%" in refusals[0]
        assert (await store.policy(KEY, private=False)).threshold == pytest.approx(0.8)

    async def test_settings_in_a_private_chat_explain_they_are_for_groups(
        self, fake: ModFake, settings: Settings, detector: Detector, store: SqlStore
    ) -> None:
        """/settings in a private chat says settings are for groups."""
        async with running_bot(fake, bot_settings(settings, fake), detector, store=store):
            answers = await fake.ask(fake.command("/settings"))
        assert answers == [replies.SETTINGS_GROUPS_ONLY]


class TestConcurrentChanges:
    async def test_two_admins_changing_settings_at_once_both_stay(
        self, fake: ModFake, settings: Settings, detector: Detector, racy_store: SqlStore
    ) -> None:
        """Two typed changes, then two button presses, each pair at once: all four are kept."""
        fake.admins[GROUP].add(MEMBER)
        async with running_bot(fake, bot_settings(settings, fake), detector, store=racy_store):
            fake.push(fake.group_command("/settings threshold 90%"))
            fake.push(fake.group_command("/settings exempt 77", user_id=MEMBER))
            [_, panel] = await fake.wait_posted(GROUP, 2)
            fake.press(panel, "dgs:mode:off", user_id=ADMIN)
            fake.press(panel, "dgs:act:delete", user_id=MEMBER)
            await fake.wait_for("answerCallbackQuery", 2)
        policy = await racy_store.policy(KEY, private=False)
        assert policy.threshold == pytest.approx(0.9)
        assert policy.exempt_users == frozenset({"77"})
        assert policy.mode is Mode.OFF
        assert Action.DELETE in policy.actions


class TestStatsAndForget:
    async def test_stats_count_and_forget_deletes(
        self, fake: ModFake, settings: Settings, detector: Detector, store: SqlStore
    ) -> None:
        """/stats counts scanned and flagged images; a member's /forget is refused, an admin's works."""
        policy = ChatPolicy(mode=Mode.FLAG_ONLY, threshold=0.0, modlog=str(MODLOG))
        await store.save_policy(KEY, policy)
        async with running_bot(fake, bot_settings(settings, fake), detector, store=store):
            fake.push(fake.group_photo(image_bytes(1)))
            await fake.wait_posted(MODLOG)
            stats, refusal, forgotten = await fake.ask(
                fake.group_command("/stats"),
                fake.group_command("/forget", user_id=MEMBER),
                fake.group_command("/forget"),
            )
        now = datetime.now(UTC)
        week, month = [await store.stats(KEY, now - timedelta(days=d)) for d in (7, 30)]
        assert texts(fake, GROUP) == [stats, refusal, forgotten]  # flag-only: no verdict reply
        assert stats.startswith("Last 7 days: 1 images scanned, 1 flagged")
        assert refusal == replies.ADMINS_ONLY_COMMAND
        assert forgotten == replies.FORGOTTEN
        assert (week.scanned, month.flagged) == (0, 0)
        assert await store.get_flag(1) is None
