"""The "Why?" button and `/explain` through the real discord.py client against the fake Discord.

A verdict reply carries the button (a refusal does not); pressing it fetches the original
message again through the reply's reference and answers the presser privately with the PNG,
also after a restart (a new client); the press spends a token like a check.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bots import replies
from bots.explain_replies import EXPLAIN_CAPTION, WHY_DATA, OriginalGone
from bots.i18n import english
from config import Settings, ThrottleSettings
from core.detector import Detector
from core.moderation.types import ChatKey, ChatPolicy
from tests.core.memory_store import MemoryStore
from tests.discord import fake_discord as fd
from tests.discord.discord_harness import (
    answered,
    bot_running,
    bot_settings,
    followup_of,
    image,
    post,
    reply_to,
    served_fake,
)
from tests.discord.discord_payloads import Json, interaction, snowflake
from tests.discord.fake_discord import FakeDiscord
from tests.discord.fake_discord_mod import click, custom_ids, posted
from tests.fakes import png_bytes

ENGLISH = english()

pytestmark = pytest.mark.slow

fake = pytest.fixture(served_fake)


def the_reply(fake: FakeDiscord, original: Json, body: Json) -> Json:
    """The bot's reply as Discord sends it back in a click: it references the original."""
    reference = {"message_id": original["id"], "channel_id": original["channel_id"]}
    return {**posted(body), "message_reference": {**reference, "guild_id": fd.GUILD_ID}}


def png_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as picture:
        assert picture.format == "PNG"
        return picture.size


async def answers_only() -> MemoryStore:
    """A store where the server moderates nothing: the bot only answers."""
    store = MemoryStore()
    await store.save_policy(ChatKey("discord", fd.GUILD_ID), ChatPolicy(actions=frozenset()))
    return store


async def press(fake: FakeDiscord, reply: Json) -> tuple[Json, Json]:
    """Press Why? on `reply`; the callback (deferred) and the follow-up that answers."""
    pressed = click(WHY_DATA, reply)
    callback = await answered(fake, pressed)
    return callback, await followup_of(fake, pressed)


async def test_why_answers_the_presser_privately_with_the_picture(
    fake: FakeDiscord, settings: Settings, detector: Detector
) -> None:
    """A verdict reply has the button; pressing it gives an ephemeral follow-up with a PNG."""
    async with bot_running(fake, bot_settings(settings, fake), detector, await answers_only()):
        original = await post(fake, **image(fake, 41))
        fake.messages[original["id"]] = original
        (body,) = await reply_to(fake, original)
        callback, followup = await press(fake, the_reply(fake, original, body))
    assert WHY_DATA in custom_ids(body)
    assert callback["type"] == 5  # thinking...
    assert callback["data"]["flags"] & 64  # privately
    assert followup["flags"] & 64
    assert followup["content"] == EXPLAIN_CAPTION
    (picture,) = followup["uploaded"]
    width, height = png_size(picture)
    assert width >= 360
    assert height > width // 2


async def test_why_still_works_after_a_restart(
    fake: FakeDiscord, settings: Settings, detector: Detector
) -> None:
    """The button of a reply made before a restart is answered by the new client."""
    configured = bot_settings(settings, fake)
    async with bot_running(fake, configured, detector, await answers_only()):
        original = await post(fake, **image(fake, 42))
        fake.messages[original["id"]] = original
        (body,) = await reply_to(fake, original)
    fake.ready.clear()
    async with bot_running(fake, configured, detector, await answers_only()):
        _, followup = await press(fake, the_reply(fake, original, body))
    (picture,) = followup["uploaded"]
    assert png_size(picture)[0] >= 360


async def test_a_refusal_has_no_why_and_a_deleted_original_is_said(
    fake: FakeDiscord, settings: Settings, detector: Detector
) -> None:
    """A refused image's reply has no button; Why? on a reply whose original is gone says so."""
    async with bot_running(fake, bot_settings(settings, fake), detector, await answers_only()):
        corrupt = fake.attachment("bad.png", b"\x89PNG\r\n\x1a\n broken")
        refused = await post(fake, attachments=[corrupt])
        (refusal,) = await reply_to(fake, refused)
        original = await post(fake, **image(fake, 43))  # never kept: deleted since
        (body,) = await reply_to(fake, original)
        _, followup = await press(fake, the_reply(fake, original, body))
    assert custom_ids(refusal) == []
    assert followup["content"] == replies.error_text(ENGLISH, OriginalGone())
    assert followup["flags"] & 64


async def test_why_is_throttled_like_a_check(
    fake: FakeDiscord, settings: Settings, detector: Detector
) -> None:
    """A presser out of tokens is told they are throttled; no picture is made."""
    slow = settings.model_copy(update={"throttle": ThrottleSettings(burst=1, per_minute=0.01)})
    async with bot_running(fake, bot_settings(slow, fake), detector, await answers_only()):
        original = await post(fake, **image(fake, 44))  # the poster (the presser) spends it
        fake.messages[original["id"]] = original
        (body,) = await reply_to(fake, original)
        callback = await answered(fake, click(WHY_DATA, the_reply(fake, original, body)))
    assert callback["data"]["content"] == replies.THROTTLED
    assert callback["data"]["flags"] & 64


async def test_explain_command_answers_with_the_picture(
    fake: FakeDiscord, settings: Settings, detector: Detector
) -> None:
    """`/explain image:` answers privately with the PNG of that attachment."""
    async with bot_running(fake, bot_settings(settings, fake), detector, await answers_only()):
        attachment = fake.attachment("e.png", png_bytes(45))
        payload = interaction(
            {
                "id": snowflake(),
                "name": "explain",
                "type": 1,
                "options": [{"name": "image", "type": 11, "value": attachment["id"]}],
                "resolved": {"attachments": {attachment["id"]: attachment}},
            }
        )
        callback = await answered(fake, payload)
        followup = await followup_of(fake, payload)
    assert callback["type"] == 5
    (picture,) = followup["uploaded"]
    assert png_size(picture)[0] >= 360
    assert followup["flags"] & 64
