"""Telegram moderation end to end: the real PTB client, the fake Bot API, the tiny model, and
the real store on SQLite. The probability is steered by the policy's threshold (0.0 flags
every image, 1.0 none), not by the random model.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bots import moderation_replies
from bots.explain_replies import WHY_DATA
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
)
from tests.telegram.telegram_harness import bot_settings, running_bot

pytestmark = pytest.mark.slow

KEY = ChatKey("telegram", str(GROUP))
_LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


fake = pytest.fixture(isolated_mod_fake)


def guarded(threshold: float = 0.0, *actions: Action, **fields: Any) -> ChatPolicy:
    """A flag-only group with a mod-log; threshold 0.0 flags everything, 1.0 nothing."""
    chosen = frozenset(actions or (Action.REACT, Action.MODLOG))
    base: dict[str, Any] = {"mode": Mode.FLAG_ONLY, "actions": chosen, "modlog": str(MODLOG)}
    return ChatPolicy(threshold=threshold, **(base | fields))


class TestFlagging:
    async def test_flag_only_is_silent_below_the_threshold(
        self, fake: ModFake, settings: Settings, detector: Detector, store: SqlStore
    ) -> None:
        """Below the threshold a flag-only group gets no reply, no marker, no mod-log post."""
        await store.save_policy(KEY, guarded(1.0))
        async with running_bot(fake, bot_settings(settings, fake), detector, store=store):
            fake.push(fake.group_photo(image_bytes(1)))
            await fake.wait_for("download")  # the photo is being judged; the stop drains it
        assert fake.posted == []
        assert fake.sent("setMessageReaction") == []
        assert (await store.stats(KEY, _LONG_AGO)).scanned == 1

    async def test_flag_reacts_and_posts_to_the_modlog_with_review_buttons(
        self, fake: ModFake, settings: Settings, detector: Detector, store: SqlStore
    ) -> None:
        """At the threshold the message gets the marker and the mod-log a post with a link."""
        await store.save_policy(KEY, guarded(0.0))
        async with running_bot(fake, bot_settings(settings, fake), detector, store=store):
            photo = fake.group_photo(image_bytes(2))
            fake.push(photo)
            [post] = await fake.wait_posted(MODLOG)
            [reaction] = await fake.wait_for("setMessageReaction")
        assert reaction["message_id"] == photo["message_id"]
        assert reaction["reaction"] == [
            {"type": "emoji", "emoji": moderation_replies.MARKER_EMOJI}
        ]
        assert f"https://t.me/c/{str(GROUP)[4:]}/{photo['message_id']}" in post["text"]
        assert "Test group" in post["text"]
        assert buttons(post) == {
            moderation_replies.CONFIRM_BUTTON: "dg:ok:1",
            moderation_replies.DISMISS_BUTTON: "dg:no:1",
        }
        flag = await store.get_flag(1)
        assert flag is not None
        assert flag.flag.message == str(photo["message_id"])
        assert flag.modlog_message == f"{MODLOG}/{post['message_id']}"
        assert fake.posted_to(GROUP) == []  # flag-only: no verdict reply

    async def test_warn_replies_with_a_report_button_and_delete_deletes(
        self, fake: ModFake, settings: Settings, detector: Detector, store: SqlStore
    ) -> None:
        """WARN quotes the message with "Report a mistake"; DELETE calls deleteMessage."""
        await store.save_policy(KEY, guarded(0.0, Action.WARN, Action.DELETE))
        async with running_bot(fake, bot_settings(settings, fake), detector, store=store):
            photo = fake.group_photo(image_bytes(3))
            fake.push(photo)
            [warning] = await fake.wait_posted(GROUP)
            [deleted] = await fake.wait_for("deleteMessage")
        [sent] = fake.sent()
        assert sent["reply_parameters"]["message_id"] == photo["message_id"]
        assert warning["text"].startswith("⚠️")
        assert buttons(warning) == {moderation_replies.REPORT_BUTTON: "dg:rp:1"}
        assert deleted == {"chat_id": GROUP, "message_id": photo["message_id"]}
        assert fake.posted_to(MODLOG) == []

    async def test_exempt_user_is_not_flagged(
        self, fake: ModFake, settings: Settings, detector: Detector, store: SqlStore
    ) -> None:
        """An exempt user's image is never flagged (flag-only: not even fetched); others' are."""
        await store.save_policy(KEY, guarded(0.0, exempt_users=frozenset({str(MEMBER)})))
        async with running_bot(fake, bot_settings(settings, fake), detector, store=store):
            fake.push(fake.group_photo(image_bytes(4)))
            other = fake.group_photo(image_bytes(5), user_id=ADMIN)
            fake.push(other)
            await fake.wait_posted(MODLOG)
        [reaction] = fake.sent("setMessageReaction")
        assert reaction["message_id"] == other["message_id"]
        assert (await store.stats(KEY, _LONG_AGO)).flagged == 1

    async def test_refused_delete_is_switched_off_and_told_once(
        self, fake: ModFake, settings: Settings, detector: Detector, store: SqlStore
    ) -> None:
        """A delete Telegram refuses turns DELETE off for the group, told once in the mod-log."""
        await store.save_policy(KEY, guarded(0.0, Action.MODLOG, Action.DELETE))
        for _ in range(2):
            fake.fail("deleteMessage", 400, "Bad Request: message can't be deleted")
        async with running_bot(fake, bot_settings(settings, fake), detector, store=store):
            fake.push(fake.group_photo(image_bytes(6)))
            fake.push(fake.group_photo(image_bytes(7)))
            await fake.wait_posted(MODLOG, 3)  # two flags and one notice
        notices = [m for m in fake.posted_to(MODLOG) if "switched that action off" in m["text"]]
        assert len(notices) == 1
        policy = await store.policy(KEY, private=False)
        assert (str(GROUP), Action.DELETE) in policy.disabled


class TestAnswersAndFlags:
    async def test_reply_all_group_answers_and_flags_without_a_second_warning(
        self, fake: ModFake, settings: Settings, detector: Detector, store: SqlStore
    ) -> None:
        """In reply-all the verdict is the warning: one reply, plus the marker and mod-log post."""
        policy = guarded(0.0, Action.REACT, Action.WARN, Action.MODLOG, mode=Mode.REPLY_ALL)
        await store.save_policy(KEY, policy)
        async with running_bot(fake, bot_settings(settings, fake), detector, store=store):
            fake.push(fake.group_photo(image_bytes(8)))
            await fake.wait_posted(MODLOG)
            await fake.wait_for("setMessageReaction")
            [verdict] = await fake.wait_posted(GROUP)
        assert "probability of AI" in verdict["text"]
        markup = verdict["reply_markup"]["inline_keyboard"]  # no report button: only Why?
        assert [button["callback_data"] for row in markup for button in row] == [WHY_DATA]

    async def test_album_is_flagged_per_image_and_stays_silent(
        self, fake: ModFake, settings: Settings, detector: Detector, store: SqlStore
    ) -> None:
        """Each image of an album in a flag-only group gets its own marker and flag, no reply."""
        await store.save_policy(KEY, guarded(0.0))
        async with running_bot(fake, bot_settings(settings, fake), detector, store=store):
            album = [fake.group_photo(image_bytes(20 + n), media_group_id="a") for n in range(2)]
            for message in album:
                fake.push(message)
            await fake.wait_posted(MODLOG, 2)
            await fake.wait_for("setMessageReaction", 2)
        marked = sorted(r["message_id"] for r in fake.sent("setMessageReaction"))
        assert marked == [message["message_id"] for message in album]
        assert fake.posted_to(GROUP) == []

    async def test_check_in_a_silent_group_answers_and_flags_the_target(
        self, fake: ModFake, settings: Settings, detector: Detector, store: SqlStore
    ) -> None:
        """/check on a photo the bot never saw (privacy mode) is answered and flags that photo."""
        await store.save_policy(KEY, guarded(0.0))
        async with running_bot(fake, bot_settings(settings, fake), detector, store=store):
            photo = fake.group_photo(image_bytes(30))  # not delivered: privacy mode
            fake.push(fake.group_command("/check", user_id=ADMIN, reply_to=photo))
            [verdict] = await fake.wait_posted(GROUP)
            [reaction] = await fake.wait_for("setMessageReaction")
        assert "probability of AI" in verdict["text"]
        assert reaction["message_id"] == photo["message_id"]
        flag = await store.get_flag(1)
        assert flag is not None
        assert flag.flag.author == str(MEMBER)


class TestTheReplyComesLast:
    async def test_a_failing_reply_leaves_the_flags_actions_done(
        self, fake: ModFake, settings: Settings, detector: Detector, store: SqlStore
    ) -> None:
        """When Telegram fails the verdict reply (HTTP 500), the marker, the mod-log post and
        the deletion have all been done already."""
        policy = guarded(0.0, Action.REACT, Action.MODLOG, Action.DELETE, mode=Mode.REPLY_ALL)
        await store.save_policy(KEY, policy)
        fake.fail("sendMessage", 500, "Internal Server Error", chat_id=GROUP)
        async with running_bot(fake, bot_settings(settings, fake), detector, store=store):
            photo = fake.group_photo(image_bytes(40))
            fake.push(photo)
            await fake.wait_until(lambda: any(c.failed for c in fake.called("sendMessage")))
        [reply] = [c for c in fake.called("sendMessage") if c.params["chat_id"] == GROUP]
        [reaction] = fake.called("setMessageReaction")
        [deletion] = fake.called("deleteMessage")
        [post] = [c for c in fake.called("sendMessage") if c.params["chat_id"] == MODLOG]
        assert reply.failed
        assert "probability of AI" in reply.params["text"]
        assert not any(call.failed for call in (reaction, deletion, post))
        assert (
            reaction.params["message_id"] == deletion.params["message_id"] == photo["message_id"]
        )
        order = [fake.calls.index(call) for call in (reaction, post, deletion, reply)]
        assert order == sorted(order)
        flag = await store.get_flag(1)
        assert flag is not None
        assert flag.modlog_message == f"{MODLOG}/{fake.posted_to(MODLOG)[0]['message_id']}"

    async def test_timeout_mutes_the_poster(
        self, fake: ModFake, settings: Settings, detector: Detector, store: SqlStore
    ) -> None:
        """A flag whose actions include a time-out restricts the poster until it is over."""
        await store.save_policy(KEY, guarded(0.0, Action.TIMEOUT, timeout_minutes=5))
        async with running_bot(fake, bot_settings(settings, fake), detector, store=store):
            fake.push(fake.group_photo(image_bytes(41)))
            [muted] = await fake.wait_for("restrictChatMember")
        assert (muted["chat_id"], muted["user_id"]) == (GROUP, MEMBER)
        assert muted["permissions"]["can_send_messages"] is False
        assert not any(muted["permissions"].values())
        until = datetime.fromtimestamp(int(muted["until_date"]), UTC)
        assert 4 * 60 < (until - datetime.now(UTC)).total_seconds() <= 5 * 60
