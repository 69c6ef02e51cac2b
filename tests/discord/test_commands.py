"""The Discord bot's commands end to end: `/check`, the "Check for AI image" message menu and
their sync, with the real discord.py client against a fake Discord on loopback.

Judged by the real Detector with the tiny random model; every answer is ephemeral.
"""

from __future__ import annotations

import pytest

from bots import replies
from config import Settings
from core.detector import Detector
from tests.discord import fake_discord as fd
from tests.discord.discord_harness import (
    answered,
    bot_running,
    bot_settings,
    served_bot,
    served_fake,
    serving,
)
from tests.discord.fake_discord import FakeDiscord
from tests.discord.fake_discord_mod import custom_ids
from tests.fakes import png_bytes
from tests.judges import expected

pytestmark = pytest.mark.slow

fake = pytest.fixture(served_fake)
bot = pytest.fixture(served_bot)


async def test_slash_check_answers_privately(
    fake: FakeDiscord, bot: Settings, detector: Detector
) -> None:
    """`/check image:<file>` gets an ephemeral answer (flags 64) with the shared wording, and
    no "Why?" button: the file is in no message to fetch again (`/explain` explains it)."""
    image = png_bytes(100)
    payload = fd.slash_check(fake.attachment("q.png", image))
    callback = await answered(fake, payload)
    assert callback["type"] == 4
    assert callback["data"]["flags"] == 64
    assert callback["data"]["content"] == await expected(detector, bot, image)
    assert callback["data"]["content"].endswith(replies.DISCLAIMER)  # a verdict
    assert custom_ids(callback["data"]) == []


async def test_message_menu_answers_privately(
    fake: FakeDiscord, bot: Settings, detector: Detector
) -> None:
    """ "Check for AI image" on a message answers about its images, ephemerally, with a "Why?"
    button naming the message (`test_why` presses it)."""
    image = png_bytes(110)
    target = fd.message(attachments=[fake.attachment("m.png", image)])
    payload = fd.message_menu(target)
    callback = await answered(fake, payload)
    assert callback["data"]["flags"] == 64
    assert callback["data"]["content"] == await expected(detector, bot, image)
    assert custom_ids(callback["data"]) == [f"dg:why:{fd.CHANNEL_ID}:{target['id']}"]


async def test_message_menu_on_a_message_without_images(fake: FakeDiscord, bot: Settings) -> None:
    """The menu on a text-only message says that it found no image, with no "Why?" button."""
    payload = fd.message_menu(fd.message())
    callback = await answered(fake, payload)
    assert callback["data"]["content"] == replies.NO_IMAGE_FOUND
    assert callback["data"]["flags"] == 64
    assert custom_ids(callback["data"]) == []


async def test_commands_sync_to_the_test_guild(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, detector: Detector
) -> None:
    """With `test_guild_id` set, commands are synced to that guild only (instant updates)."""
    async with serving(monkeypatch) as fake:
        configured = bot_settings(settings, fake, test_guild_id=int(fd.GUILD_ID))
        async with bot_running(fake, configured, detector):
            image = png_bytes(120)
            payload = fd.slash_check(fake.attachment("g.png", image))
            callback = await answered(fake, payload)
    synced = fake.sent(r"/applications/\d+(/guilds/\d+)?/commands", "PUT")
    assert [r.path.rsplit("/", 2)[-2] for r in synced] == [fd.GUILD_ID]
    assert {command["name"] for command in synced[0].body} == {
        "check",
        "Check for AI image",
        "deepguard",
        "explain",
    }
    assert callback["data"]["content"] == await expected(detector, configured, image)
