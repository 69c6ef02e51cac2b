"""The fake Bot API itself, driven by PTB's plain `Bot`, so e2e failures point at the bot."""

from __future__ import annotations

import asyncio
import datetime as dtm
from collections.abc import AsyncIterator

import pytest
from telegram import Bot, ChatMemberAdministrator, ChatMemberOwner
from telegram.error import BadRequest, Forbidden, RetryAfter

from tests.sample_images import image_bytes
from tests.telegram.fake_telegram import FakeTelegram, isolated_fake
from tests.telegram.telegram_payloads import ALICE, BOT_USER

pytestmark = pytest.mark.slow
GROUP = -1001234567890


fake = pytest.fixture(isolated_fake)


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url) as bot:
        yield bot


class TestFakeTelegram:
    async def test_it_serves_and_records_the_calls_a_bot_makes(
        self, fake: FakeTelegram, bot: Bot
    ) -> None:
        """Reactions, deletions and member look-ups are answered and recorded with parameters."""
        assert bot.username == BOT_USER["username"]
        assert await bot.set_message_reaction(ALICE, 10, "👍")
        assert await bot.delete_message(ALICE, 10)
        me = await bot.get_chat_member(GROUP, bot.id)
        admins = await bot.get_chat_administrators(GROUP)
        assert isinstance(me, ChatMemberAdministrator)
        assert me.can_delete_messages
        assert [type(admin) for admin in admins] == [ChatMemberOwner, ChatMemberAdministrator]
        [reaction] = fake.sent("setMessageReaction")
        assert reaction == {
            "chat_id": ALICE,
            "message_id": 10,
            "reaction": [{"type": "emoji", "emoji": "👍"}],
        }
        assert [call.method for call in fake.calls] == [
            "getme",
            "setmessagereaction",
            "deletemessage",
            "getchatmember",
            "getchatadministrators",
        ]

    async def test_it_fails_calls_in_the_bot_api_envelope(
        self, fake: FakeTelegram, bot: Bot
    ) -> None:
        """Injected errors reach PTB as its own exceptions, RetryAfter with its wait."""
        fake.fail("sendMessage", 400, "Bad Request: chat not found")
        fake.fail("sendMessage", 403, "Forbidden: bot was blocked by the user")
        fake.fail("sendMessage", 429, "Too Many Requests: retry after 3", retry_after=3)
        with pytest.raises(BadRequest, match=r"(?i)chat not found"):
            await bot.send_message(ALICE, "hi")
        with pytest.raises(Forbidden):
            await bot.send_message(ALICE, "hi")
        with pytest.raises(RetryAfter) as flood:
            await bot.send_message(ALICE, "hi")
        assert flood.value.retry_after == dtm.timedelta(seconds=3)
        assert (await bot.send_message(ALICE, "hi")).text == "hi"
        assert [call.failed for call in fake.called("sendMessage")] == [True, True, True, False]

    async def test_get_updates_long_polls_and_honours_offset(
        self, fake: FakeTelegram, bot: Bot
    ) -> None:
        """A poll waits for an update; a later offset confirms (forgets) what came before."""
        assert await bot.get_updates(timeout=0) == ()
        waiting = asyncio.create_task(bot.get_updates(timeout=5))
        await fake.wait_until(lambda: len(fake.called("getUpdates")) == 2)
        first = fake.push(fake.message(text="one"))
        second = fake.push(fake.message(text="two"))
        updates = await waiting
        assert [u.update_id for u in updates] == [first["update_id"], second["update_id"]]
        assert fake.unconfirmed == [first, second]
        assert await bot.get_updates(offset=second["update_id"] + 1, timeout=0) == ()
        assert fake.unconfirmed == []

    async def test_files_are_served_by_getfile_and_download(
        self, fake: FakeTelegram, bot: Bot
    ) -> None:
        """getFile names a path under the token; the download returns the hosted bytes."""
        data = image_bytes(1)
        hosted = fake.add_file(data)
        file = await bot.get_file(hosted["file_id"])
        assert file.file_size == len(data)
        assert bytes(await file.download_as_bytearray()) == data
        [download] = fake.sent("download")
        assert file.file_path is not None
        assert file.file_path.endswith(download["path"])
