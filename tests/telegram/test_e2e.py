"""The Telegram bot end to end: the real PTB client, the fake Bot API, the tiny random model."""

from __future__ import annotations

from typing import Any

import pytest

from bots import replies
from config import Settings, ThrottleSettings
from core.detector import Detector
from tests.judges import PERCENT
from tests.sample_images import image_bytes
from tests.telegram.fake_telegram import FakeTelegram, isolated_fake
from tests.telegram.telegram_harness import bot_settings, running_bot
from tests.telegram.telegram_payloads import ALICE, BOB

pytestmark = pytest.mark.slow


fake = pytest.fixture(isolated_fake)


def quoted(reply: dict[str, Any]) -> int:
    """The id of the message a reply quotes."""
    message_id: int = reply["reply_parameters"]["message_id"]
    return message_id


class TestAnswers:
    async def test_photo_gets_a_reply_quoting_it(
        self, fake: FakeTelegram, settings: Settings, detector: Detector
    ) -> None:
        """A photo is answered with the fake probability, quoting the photo's message."""
        async with running_bot(fake, bot_settings(settings, fake), detector):
            photo = fake.photo(image_bytes(1))
            fake.push(photo)
            [reply] = await fake.wait_for("sendMessage")
        assert PERCENT.search(reply["text"])
        assert quoted(reply) == photo["message_id"]
        assert reply["chat_id"] == ALICE
        assert "message_thread_id" not in reply

    async def test_image_document_and_sticker_get_replies(
        self, fake: FakeTelegram, settings: Settings, detector: Detector
    ) -> None:
        """An image sent as a file (even labelled as generic binary) and a static sticker are answered."""
        async with running_bot(fake, bot_settings(settings, fake), detector):
            messages = [
                fake.document(image_bytes(2, "JPEG"), "holiday.jpg", "image/jpeg"),
                fake.document(image_bytes(3), "scan", "application/octet-stream"),
                fake.sticker(image_bytes(4, "WEBP")),
            ]
            for message in messages:
                fake.push(message)
            sent = await fake.wait_for("sendMessage", 3)
        assert sorted(quoted(reply) for reply in sent) == [m["message_id"] for m in messages]
        assert all(PERCENT.search(reply["text"]) for reply in sent)

    async def test_album_of_three_gets_one_reply(
        self, fake: FakeTelegram, settings: Settings, detector: Detector
    ) -> None:
        """An album is answered once, quoting its first message, with one verdict per image."""
        async with running_bot(fake, bot_settings(settings, fake), detector):
            album = [fake.photo(image_bytes(10 + n), media_group_id="album-1") for n in range(3)]
            for message in album:
                fake.push(message)
            await fake.wait_for("sendMessage")
        [reply] = fake.sent("sendMessage")
        assert quoted(reply) == album[0]["message_id"]
        assert len(PERCENT.findall(reply["text"])) == 3
        assert "Image 3:" in reply["text"]

    async def test_edited_message_with_a_new_image_is_answered_again(
        self, fake: FakeTelegram, settings: Settings, detector: Detector
    ) -> None:
        """Swapping the image by an edit gets a new verdict; an edited caption alone does not."""
        async with running_bot(fake, bot_settings(settings, fake), detector):
            photo = fake.photo(image_bytes(20))
            fake.push(photo)
            await fake.wait_for("sendMessage")
            fake.push(
                {**photo, "caption": "typo fixed", "edit_date": photo["date"] + 1}, edited=True
            )
            swapped = fake.photo(image_bytes(21))["photo"]
            fake.push({**photo, "photo": swapped, "edit_date": photo["date"] + 2}, edited=True)
            await fake.wait_for("sendMessage", 2)
        assert [quoted(reply) for reply in fake.sent()] == [photo["message_id"]] * 2

    async def test_reply_stays_in_the_forum_topic(
        self, fake: FakeTelegram, settings: Settings, detector: Detector
    ) -> None:
        """A photo posted in a forum topic is answered in that topic."""
        group = -1001234567890
        async with running_bot(fake, bot_settings(settings, fake), detector):
            fields = {"chat_id": group, "message_thread_id": 7, "is_topic_message": True}
            fake.push(fake.photo(image_bytes(30), **fields))
            [reply] = await fake.wait_for("sendMessage")
        assert reply["chat_id"] == group
        assert reply["message_thread_id"] == 7


class TestCommands:
    async def test_check_in_reply_to_a_photo_judges_that_photo(
        self, fake: FakeTelegram, settings: Settings, detector: Detector
    ) -> None:
        """`/check` replying to a photo the bot never saw (privacy mode) answers the command."""
        group = -1001234567890
        async with running_bot(fake, bot_settings(settings, fake), detector):
            photo = fake.photo(image_bytes(40), chat_id=group, user_id=BOB)
            command = fake.command("/check@deepguard_bot", reply_to=photo, chat_id=group)
            fake.push(command)
            [reply] = await fake.wait_for("sendMessage")
        assert quoted(reply) == command["message_id"]
        assert PERCENT.search(reply["text"])

    async def test_check_without_an_image_explains_itself(
        self, fake: FakeTelegram, settings: Settings, detector: Detector
    ) -> None:
        """`/check` alone, or in reply to text, says how to use it; /start shows the help."""
        async with running_bot(fake, bot_settings(settings, fake), detector):
            fake.push(fake.command("/check"))
            fake.push(fake.command("/check", reply_to=fake.message(text="hello")))
            fake.push(fake.command("/start"))
            sent = await fake.wait_for("sendMessage", 3)
        texts = sorted(reply["text"] for reply in sent)
        assert texts == sorted([replies.CHECK_NEEDS_IMAGE, replies.NO_IMAGE_FOUND, replies.HELP])

    async def test_commands_are_announced(
        self, fake: FakeTelegram, settings: Settings, detector: Detector
    ) -> None:
        """At start the bot fills the command menu; administrators also see moderation commands.

        The menus without a language code are English, every other language's fallback.
        """
        async with running_bot(fake, bot_settings(settings, fake), detector):
            await fake.wait_for("setMyCommands", 2)
        fallback = [call for call in fake.sent("setMyCommands") if "language_code" not in call]
        everyone, admins = fallback
        assert [command["command"] for command in everyone["commands"]] == ["check", "help"]
        assert "scope" not in everyone
        names = [command["command"] for command in admins["commands"]]
        assert names == ["check", "help", "settings", "stats", "forget"]
        assert admins["scope"] == {"type": "all_chat_administrators"}


class TestRepeats:
    async def test_duplicated_update_is_answered_once(
        self, fake: FakeTelegram, settings: Settings, detector: Detector
    ) -> None:
        """The same update twice, and the same message in a new update, get one reply."""
        async with running_bot(fake, bot_settings(settings, fake), detector):
            photo = fake.photo(image_bytes(50))
            update = fake.push(photo)
            fake.push(photo, update_id=update["update_id"])
            fake.push(photo)  # redelivered after a restart, under a new update_id
            fake.push(fake.photo(image_bytes(51)))
            await fake.wait_for("sendMessage", 2)
        assert sorted(quoted(reply) for reply in fake.sent()) == [
            photo["message_id"],
            photo["message_id"] + 3,
        ]

    async def test_flooding_user_is_throttled_once_and_others_are_not(
        self, fake: FakeTelegram, settings: Settings, detector: Detector
    ) -> None:
        """20 photos at once from one user: a burst is answered, one notice, other users served."""
        throttled = settings.model_copy(
            update={"throttle": ThrottleSettings(burst=3, per_minute=0.01)}
        )
        async with running_bot(fake, bot_settings(throttled, fake), detector):
            for n in range(20):
                fake.push(fake.photo(image_bytes(100 + n)))
            fake.push(fake.photo(image_bytes(200), chat_id=BOB, user_id=BOB))
            await fake.wait_for("sendMessage", 5)
        to_alice = [r["text"] for r in fake.sent() if r["chat_id"] == ALICE]
        to_bob = [r["text"] for r in fake.sent() if r["chat_id"] == BOB]
        assert to_alice.count(replies.THROTTLED) == 1
        assert len([text for text in to_alice if PERCENT.search(text)]) == 3
        assert len(to_alice) == 4
        assert len(to_bob) == 1
        assert PERCENT.search(to_bob[0])

    async def test_retry_after_delays_the_reply_instead_of_losing_it(
        self, fake: FakeTelegram, settings: Settings, detector: Detector
    ) -> None:
        """A flood-limit error on sendMessage is waited out and the reply is delivered."""
        fake.fail("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
        async with running_bot(fake, bot_settings(settings, fake), detector):
            fake.push(fake.photo(image_bytes(60)))
            [reply] = await fake.wait_for("sendMessage")
        attempts = fake.called("sendMessage")
        assert [call.failed for call in attempts] == [True, False]
        assert PERCENT.search(reply["text"])
