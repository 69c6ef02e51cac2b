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

from bots import moderation_replies
from bots.i18n import english
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
from tests.telegram.telegram_payloads import Json

ENGLISH = english()

pytestmark = pytest.mark.slow

KEY = ChatKey("telegram", str(GROUP))
STRANGER = 555  # a user who once started the bot: the bot can post in their private chat
OTHER_CHAT = -1004444444444


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
async def racy_store(store_url: str) -> AsyncIterator[SqlStore]:
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
        assert refusal == moderation_replies.ADMINS_ONLY
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
        assert fake.callback_answers()[0] == moderation_replies.ADMINS_ONLY
        policy = await store.policy(KEY, private=False)
        assert policy.mode is Mode.FLAG_ONLY
        assert policy.explicit_mode
        assert Action.DELETE in policy.actions
        last = fake.sent("editMessageText")[-1]
        keyboard = {b["text"] for row in last["reply_markup"]["inline_keyboard"] for b in row}
        assert {"• flag-only", "✓ delete"} <= keyboard

    async def test_declared_ai_is_fake_typed_and_pressed(
        self, fake: ModFake, settings: Settings, detector: Detector, store: SqlStore
    ) -> None:
        """`/settings declared off` saves it and shows it; the panel's switch turns it back on."""
        async with running_bot(fake, bot_settings(settings, fake), detector, store=store):
            [typed] = await fake.ask(fake.group_command("/settings declared off"))
            assert not (await store.policy(KEY, private=False)).declared_ai_is_fake
            [panel] = await fake.wait_posted(GROUP)
            assert buttons(panel)["declared AI counts as AI"] == "dgs:declared:on"
            fake.press(panel, "dgs:declared:on", user_id=ADMIN)
            await fake.wait_for("editMessageText")
        assert "declared AI counts as AI-generated: off" in typed
        assert (await store.policy(KEY, private=False)).declared_ai_is_fake
        last = fake.sent("editMessageText")[-1]
        assert "declared AI counts as AI-generated: on" in last["text"]
        keyboard = {b["text"] for row in last["reply_markup"]["inline_keyboard"] for b in row}
        assert "✓ declared AI counts as AI" in keyboard

    async def test_typed_nonsense_gets_the_usage(
        self, fake: ModFake, settings: Settings, detector: Detector, store: SqlStore
    ) -> None:
        """A setting that does not exist is answered with how to write the ones that do."""
        async with running_bot(fake, bot_settings(settings, fake), detector, store=store):
            answers = await fake.ask(
                fake.group_command("/settings colour blue"),
                fake.group_command("/settings modlog somewhere"),
            )
        assert answers == [moderation_replies.SETTINGS_USAGE] * 2

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
            moderation_replies.percent_refused(ENGLISH, "threshold"),
            moderation_replies.percent_refused(ENGLISH, "uncertain"),
        ]
        assert "80%" in refusals[0]
        assert (await store.policy(KEY, private=False)).threshold == pytest.approx(0.8)

    async def test_settings_in_a_private_chat_explain_they_are_for_groups(
        self, fake: ModFake, settings: Settings, detector: Detector, store: SqlStore
    ) -> None:
        """/settings in a private chat says settings are for groups."""
        async with running_bot(fake, bot_settings(settings, fake), detector, store=store):
            answers = await fake.ask(fake.command("/settings"))
        assert answers == [moderation_replies.SETTINGS_GROUPS_ONLY]


def modlog_request(fake: ModFake, chat_id: int = MODLOG) -> Json:
    """The last request the bot posted in `chat_id` to become a mod-log."""
    return [
        m
        for m in fake.posted_to(chat_id)
        if moderation_replies.MODLOG_CONFIRM_BUTTON in buttons(m)
    ][-1]


class TestModlogHandshake:
    async def test_a_modlog_is_used_only_once_an_admin_of_that_chat_confirms(
        self, fake: ModFake, settings: Settings, detector: Detector, store: SqlStore
    ) -> None:
        """/settings modlog posts a request in the chat and nothing else until one of its
        administrators confirms (a member's press is refused); from then on flags go there."""
        fake.admins[MODLOG] = {MEMBER}  # administers the mod-log chat, not the group
        async with running_bot(fake, bot_settings(settings, fake), detector, store=store):
            await fake.ask(fake.group_command("/settings threshold 0"))
            [asked] = await fake.ask(fake.group_command(f"/settings modlog {MODLOG}"))
            request = modlog_request(fake)
            pending = await store.policy(KEY, private=False)
            await fake.ask(fake.group_photo(image_bytes(1)))  # flagged: a verdict, no post
            fake.press(
                request, buttons(request)[moderation_replies.MODLOG_CONFIRM_BUTTON], user_id=ADMIN
            )
            await fake.wait_for("answerCallbackQuery")
            refused = await store.policy(KEY, private=False)
            fake.press(request, f"dgm:{GROUP}", user_id=MEMBER)
            told = (await fake.wait_posted(GROUP, 4))[3]
            [edited] = await fake.wait_for("editMessageText")
            fake.push(fake.group_photo(image_bytes(2)))
            await fake.wait_posted(MODLOG, 2)
        assert asked == moderation_replies.MODLOG_ASKED
        assert request["text"] == moderation_replies.modlog_request(ENGLISH, "Test group")
        assert buttons(request) == {moderation_replies.MODLOG_CONFIRM_BUTTON: f"dgm:{GROUP}"}
        assert (pending.modlog, pending.pending_modlog) == (None, str(MODLOG))
        assert "waiting for confirmation" in moderation_replies.settings_text(ENGLISH, pending)
        assert fake.callback_answers() == [
            moderation_replies.MODLOG_CONFIRM_ADMINS_ONLY,
            moderation_replies.SETTINGS_SAVED,
        ]
        assert refused == pending
        assert told["text"] == moderation_replies.modlog_set(ENGLISH, "Test group")
        assert edited["message_id"] == request["message_id"]
        assert "reply_markup" not in edited
        policy = await store.policy(KEY, private=False)
        assert (policy.modlog, policy.pending_modlog, policy.mode) == (
            str(MODLOG),
            None,
            Mode.FLAG_ONLY,  # a new group turns flag-only once it has a mod-log
        )
        [_, flag_post] = fake.posted_to(MODLOG)
        assert flag_post["text"].startswith("🚩 Flag #2")
        assert len(fake.posted_to(GROUP)) == 4  # asked, the settings, one verdict, told

    async def test_an_anonymous_admin_can_ask_but_only_the_target_chat_can_confirm(
        self, fake: ModFake, settings: Settings, detector: Detector, store: SqlStore
    ) -> None:
        """An anonymous admin's request to another chat (say, some user who once started the
        bot) is only a request: the group's own admin cannot confirm it for that chat."""
        async with running_bot(fake, bot_settings(settings, fake), detector, store=store):
            [asked] = await fake.ask(fake.anonymous_command(f"/settings modlog {STRANGER}"))
            request = modlog_request(fake, STRANGER)
            fake.press(request, f"dgm:{GROUP}", user_id=ADMIN)
            await fake.wait_for("answerCallbackQuery")
            fake.press(request, f"dgm:{GROUP}", user_id=STRANGER)  # the chat's own user
            await fake.wait_for("answerCallbackQuery", 2)
        assert asked == moderation_replies.MODLOG_ASKED
        assert fake.callback_answers() == [
            moderation_replies.MODLOG_CONFIRM_ADMINS_ONLY,
            moderation_replies.SETTINGS_SAVED,
        ]
        assert (await store.policy(KEY, private=False)).modlog == str(STRANGER)

    async def test_an_unreachable_stale_or_withdrawn_request_changes_nothing(
        self, fake: ModFake, settings: Settings, detector: Detector, store: SqlStore
    ) -> None:
        """A chat the bot cannot post in is refused at once; a request replaced by a newer one,
        or withdrawn with `modlog off`, has expired when its Confirm is pressed."""
        fake.fail("sendMessage", 403, "Forbidden: bot is not a member of the group chat")
        async with running_bot(fake, bot_settings(settings, fake), detector, store=store):
            [unreachable] = await fake.ask(fake.group_command(f"/settings modlog {MODLOG}"))
            unreachable_policy = await store.policy(KEY, private=False)
            await fake.ask(fake.group_command(f"/settings modlog {MODLOG}"))
            first = modlog_request(fake)
            await fake.ask(fake.group_command(f"/settings modlog {OTHER_CHAT}"))
            fake.press(first, f"dgm:{GROUP}", user_id=ADMIN)
            await fake.wait_for("answerCallbackQuery")
            await fake.ask(fake.group_command("/settings modlog off"))
            second = modlog_request(fake, OTHER_CHAT)
            fake.press(second, f"dgm:{GROUP}", user_id=ADMIN)
            await fake.wait_for("answerCallbackQuery", 2)
        assert unreachable == moderation_replies.MODLOG_UNREACHABLE
        assert unreachable_policy.pending_modlog is None
        assert fake.callback_answers() == [moderation_replies.BUTTON_EXPIRED] * 2
        policy = await store.policy(KEY, private=False)
        assert (policy.modlog, policy.pending_modlog) == (None, None)


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
        assert stats.startswith("Last 7 days: 1 image scanned, 1 flagged")
        assert refusal == moderation_replies.ADMINS_ONLY_COMMAND
        assert forgotten == moderation_replies.FORGOTTEN
        assert (week.scanned, month.flagged) == (0, 0)
        assert await store.get_flag(1) is None
