"""Telegram moderation end to end, part two: reviewing flags, reports, restarts, leaving a chat.

Same set-up as test_telegram_mod.py: real PTB client, fake Bot API, tiny model, SQLite store;
threshold 0.0 makes every image a flag.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bots import moderation_replies
from bots.i18n import english
from config import Settings
from core.detector import Detector
from core.moderation.store import SqlStore
from core.moderation.types import Action, ChatKey, ChatPolicy, FlagStatus, Mode
from tests.sample_images import image_bytes
from tests.telegram.fake_telegram_mod import (
    ADMIN,
    GROUP,
    MEMBER,
    MODLOG,
    ModFake,
    isolated_mod_fake,
)
from tests.telegram.telegram_harness import bot_settings, running_bot
from tests.telegram.telegram_payloads import chat

ENGLISH = english()

pytestmark = pytest.mark.slow

KEY = ChatKey("telegram", str(GROUP))
POLICY = ChatPolicy(
    mode=Mode.FLAG_ONLY,
    threshold=0.0,
    actions=frozenset({Action.REACT, Action.WARN, Action.MODLOG}),
    modlog=str(MODLOG),
)


fake = pytest.fixture(isolated_mod_fake)


class TestReview:
    async def test_confirm_by_a_group_admin_deletes_and_closes_the_post(
        self, fake: ModFake, settings: Settings, detector: Detector, store: SqlStore
    ) -> None:
        """A mod-log member who is not a group admin is refused; a group admin's Confirm deletes."""
        await store.save_policy(KEY, POLICY)
        fake.admins[MODLOG].add(MEMBER)  # admin of the mod-log chat only
        async with running_bot(fake, bot_settings(settings, fake), detector, store=store):
            photo = fake.group_photo(image_bytes(1))
            fake.push(photo)
            [post] = await fake.wait_posted(MODLOG)
            fake.press(post, "dg:ok:1", user_id=MEMBER)
            await fake.wait_for("answerCallbackQuery")
            assert fake.sent("deleteMessage") == []
            fake.press(post, "dg:ok:1", user_id=ADMIN)
            [deleted] = await fake.wait_for("deleteMessage")
            [edit] = await fake.wait_for("editMessageText")
        assert deleted == {"chat_id": GROUP, "message_id": photo["message_id"]}
        assert fake.callback_answers()[0] == moderation_replies.REVIEW_ADMINS_ONLY
        assert edit["message_id"] == post["message_id"]
        assert "Confirmed by" in edit["text"]
        assert "reply_markup" not in edit  # the buttons are gone
        flag = await store.get_flag(1)
        assert flag is not None
        assert flag.status is FlagStatus.CONFIRMED
        assert flag.reviewer == str(ADMIN)

    async def test_dismiss_records_a_false_positive_and_removes_the_marker(
        self, fake: ModFake, settings: Settings, detector: Detector, store: SqlStore
    ) -> None:
        """Dismiss closes the flag as dismissed, clears the reaction, and a second press is told."""
        await store.save_policy(KEY, POLICY)
        async with running_bot(fake, bot_settings(settings, fake), detector, store=store):
            photo = fake.group_photo(image_bytes(2))
            fake.push(photo)
            [post] = await fake.wait_posted(MODLOG)
            await fake.wait_for("setMessageReaction")
            fake.press(post, "dg:no:1", user_id=ADMIN)
            await fake.wait_for("editMessageText")
            fake.press(post, "dg:ok:1", user_id=ADMIN)
            await fake.wait_for("answerCallbackQuery", 2)
        _, cleared = fake.sent("setMessageReaction")
        assert cleared["message_id"] == photo["message_id"]
        assert cleared.get("reaction", []) == []
        assert fake.callback_answers()[1] == moderation_replies.ALREADY_REVIEWED
        assert fake.sent("deleteMessage") == []
        flag = await store.get_flag(1)
        assert flag is not None
        assert flag.status is FlagStatus.DISMISSED
        stats = await store.stats(KEY, datetime(2000, 1, 1, tzinfo=UTC))
        assert (stats.flagged, stats.dismissed) == (1, 1)

    async def test_report_button_reaches_the_modlog_only_from_the_poster(
        self, fake: ModFake, settings: Settings, detector: Detector, store: SqlStore
    ) -> None:
        """Only the poster's "Report a mistake" is accepted, and it lands in the mod-log."""
        await store.save_policy(KEY, POLICY)
        async with running_bot(fake, bot_settings(settings, fake), detector, store=store):
            fake.push(fake.group_photo(image_bytes(3)))
            [warning] = await fake.wait_posted(GROUP)
            fake.press(warning, "dg:rp:1", user_id=ADMIN)
            await fake.wait_for("answerCallbackQuery")
            fake.press(warning, "dg:rp:1", user_id=MEMBER)
            await fake.wait_posted(MODLOG, 2)
            await fake.wait_for("answerCallbackQuery", 2)
        assert fake.callback_answers() == [
            moderation_replies.REPORT_NOT_YOURS,
            moderation_replies.REPORT_THANKS,
        ]
        report = fake.posted_to(MODLOG)[1]["text"]
        assert report == moderation_replies.report_notice(ENGLISH, 1, f"User{MEMBER} ({MEMBER})")

    async def test_a_report_without_a_modlog_is_recorded_counted_and_said_so_once(
        self, fake: ModFake, settings: Settings, detector: Detector, store: SqlStore
    ) -> None:
        """The poster is told honestly where the report went; a second press says it is known."""
        await store.save_policy(KEY, replace(POLICY, modlog=None))
        async with running_bot(fake, bot_settings(settings, fake), detector, store=store):
            fake.push(fake.group_photo(image_bytes(6)))
            [warning] = await fake.wait_posted(GROUP)
            fake.press(warning, "dg:rp:1", user_id=MEMBER)
            await fake.wait_for("answerCallbackQuery")
            fake.press(warning, "dg:rp:1", user_id=MEMBER)
            await fake.wait_for("answerCallbackQuery", 2)
        assert fake.callback_answers() == [
            moderation_replies.report_without_modlog(ENGLISH, "group"),
            moderation_replies.REPORT_ALREADY,
        ]
        stats = await store.stats(KEY, datetime(2000, 1, 1, tzinfo=UTC))
        assert stats.reported == 1


class TestRestartAndLeaving:
    async def test_settings_and_flags_survive_a_restart_and_nothing_is_handled_twice(
        self, fake: ModFake, settings: Settings, detector: Detector, store_url: str
    ) -> None:
        """Typed settings and an open flag outlive the process; a redelivered photo is ignored."""
        configured = bot_settings(settings, fake)
        photo = fake.group_photo(image_bytes(4))
        async with (
            SqlStore.open(store_url) as first,
            running_bot(fake, configured, detector, store=first),
        ):
            threshold = fake.group_command("/settings threshold 0")
            await fake.ask(fake.group_command(f"/settings modlog {MODLOG}"), threshold)
            [request] = fake.posted_to(MODLOG)
            fake.press(request, f"dgm:{GROUP}", user_id=ADMIN)
            await fake.wait_posted(GROUP, 3)  # asked, the settings, then the mod-log is set
            fake.push(photo)
            [_, post] = await fake.wait_posted(MODLOG, 2)  # the request, then the flag
        async with SqlStore.open(store_url) as second:
            async with running_bot(fake, configured, detector, store=second):
                fake.push(photo)  # Telegram redelivers it under a new update id
                fake.push(threshold)
                fake.push(fake.group_photo(image_bytes(5)))
                await fake.wait_posted(MODLOG, 3)
                fake.press(post, "dg:ok:1", user_id=ADMIN)
                [deleted] = await fake.wait_for("deleteMessage")
            policy = await second.policy(KEY, private=False)
        assert deleted["message_id"] == photo["message_id"]
        assert (policy.mode, policy.threshold, policy.modlog) == (Mode.FLAG_ONLY, 0.0, str(MODLOG))
        flagged = [m for m in fake.posted_to(MODLOG) if m["text"].startswith("🚩")]
        assert len(flagged) == 2  # the first photo once, the new one once
        assert len(fake.sent("download")) == 2
        assert len(fake.posted_to(GROUP)) == 3  # the redelivered /settings was not answered

    async def test_removing_the_bot_deletes_the_chats_data(
        self, fake: ModFake, settings: Settings, detector: Detector, store: SqlStore
    ) -> None:
        """A my_chat_member update saying the bot left deletes the group's policy and flags."""
        await store.save_policy(KEY, POLICY)
        async with running_bot(fake, bot_settings(settings, fake), detector, store=store):
            fake.push(fake.group_photo(image_bytes(6)))
            await fake.wait_posted(MODLOG)
            removal = fake.bot_removed(GROUP, "kicked")
            await fake.wait_until(lambda: removal not in fake.unconfirmed)  # the stop drains it
        assert await store.get_flag(1) is None
        assert await store.policy(KEY, private=False) != POLICY


class TestForgedButtons:
    async def test_forged_or_stale_presses_are_told_the_button_expired(
        self,
        fake: ModFake,
        settings: Settings,
        detector: Detector,
        store: SqlStore,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """Data that does not parse, a flag id past the database's integers, a review button
        pressed away from its flag's post, a report pressed in the mod-log, a mod-log Confirm
        nobody asked for: each press is answered "expired", nothing is posted, deleted or
        changed, and nothing is logged as a bug."""
        await store.save_policy(KEY, POLICY)
        async with running_bot(fake, bot_settings(settings, fake), detector, store=store):
            fake.push(fake.group_photo(image_bytes(7)))
            [post] = await fake.wait_posted(MODLOG)
            flagged = list(fake.posted)  # the warning, then the mod-log post
            elsewhere = {**post, "chat": chat(ADMIN), "message_id": 9999}  # the admin's own chat
            presses = [
                (post, "dg:ok:" + "9" * 60, ADMIN),
                (post, "dg:ok:1x", ADMIN),
                (post, "dg:ok", ADMIN),
                (post, "dgs:mode:bogus", ADMIN),
                (post, "dgs:act:everything", ADMIN),
                (post, "something else entirely", ADMIN),
                (post, "dgm:12abc", ADMIN),
                (post, f"dgm:{GROUP}", ADMIN),  # no mod-log request is open
                (elsewhere, "dg:ok:1", ADMIN),
                (post, "dg:rp:1", MEMBER),
            ]
            for message, data, who in presses:
                fake.press(message, data, user_id=who)
            await fake.wait_for("answerCallbackQuery", len(presses))
        assert fake.callback_answers() == [moderation_replies.BUTTON_EXPIRED] * len(presses)
        assert fake.sent("deleteMessage") == []
        assert fake.posted == flagged
        flag = await store.get_flag(1)
        assert flag is not None
        assert flag.status is FlagStatus.OPEN
        assert await store.policy(KEY, private=False) == POLICY
        assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
