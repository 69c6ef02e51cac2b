"""Discord moderation end to end: a server's own reply bands and `/deepguard settings uncertain`.

The real discord.py client against the fake Discord, the tiny random model and the real SQLite
store. Bands at 0 % or 100 % make the wording independent of what the random model says.
"""

from __future__ import annotations

from typing import Any

import pytest

from bots.i18n import english
from bots.moderation_replies import MARKER_EMOJI, bands_refused
from bots.run import open_store
from config import ReplySettings, Settings
from core.detector import Detector
from core.moderation.types import ChatPolicy, Mode, ModerationStore
from tests.discord import fake_discord as fd
from tests.discord.discord_harness import answered, image, post, reply_to
from tests.discord.discord_mod_harness import GUILD, moderating, reactions, served_mod_fake
from tests.discord.discord_payloads import Json
from tests.discord.fake_discord_mod import ModFakeDiscord, deepguard, option
from tests.fakes import png_bytes

ENGLISH = english()

pytestmark = pytest.mark.slow

DM_CHANNEL = fd.snowflake()


fake = pytest.fixture(served_mod_fake)


def with_bands(settings: Settings, likely_fake_from: float, likely_real_below: float) -> Settings:
    """`settings` with the operator's reply bands changed."""
    bands = ReplySettings(likely_fake_from=likely_fake_from, likely_real_below=likely_real_below)
    return settings.model_copy(update={"replies": bands})


def direct(parts: dict[str, Any]) -> dict[str, Any]:
    """Message parts for a direct message to the bot (no server)."""
    return {**parts, "channel_id": DM_CHANNEL}


async def post_direct(fake: ModFakeDiscord, seed: int) -> Json:
    payload = fd.message(**direct(image(fake, seed)))
    del payload["guild_id"], payload["member"]
    await fake.dispatch("MESSAGE_CREATE", payload)
    return payload


def ephemeral(callback: Json) -> str:
    assert callback["data"]["flags"] & 64
    return str(callback["data"]["content"])


async def test_a_server_words_verdicts_with_its_own_bands_and_a_dm_with_the_operators(
    fake: ModFakeDiscord, settings: Settings, detector: Detector, store_url: str
) -> None:
    """Server bands at 100 % say "likely real"; a DM keeps the operator's bands at 0 %."""
    everything = with_bands(settings, 0.0, 0.0)
    async with open_store(everything, store_url) as store:
        await store.save_policy(GUILD, ChatPolicy(threshold=1.0, uncertain_from=1.0))
        async with moderating(fake, everything, detector, store):
            in_server = await post(fake, **image(fake, 1))
            (server_reply,) = await reply_to(fake, in_server)
            in_dm = await post_direct(fake, 1)
            (dm_reply,) = await reply_to(fake, in_dm)
    assert server_reply["content"].startswith("📷 Likely real (")
    assert dm_reply["content"].startswith("🤖 Likely AI-generated (")
    assert reactions(fake, in_server) == []  # nothing reaches a 100 % threshold


async def test_check_in_a_server_uses_its_bands(
    fake: ModFakeDiscord, settings: Settings, detector: Detector, store: ModerationStore
) -> None:
    """`/check` in a server whose bands are at 100 % privately answers "likely real"."""
    await store.save_policy(GUILD, ChatPolicy(threshold=1.0, uncertain_from=1.0))
    async with moderating(fake, settings, detector, store):
        attachment = fake.attachment("q.png", png_bytes(3))
        callback = await answered(fake, fd.slash_check(attachment))
    assert ephemeral(callback).startswith("📷 Likely real (")


async def test_a_new_server_follows_the_operators_reply_settings(
    fake: ModFakeDiscord, settings: Settings, detector: Detector, store_url: str
) -> None:
    """With global bands at 0 %, a server nobody configured hears "likely AI" and flags it."""
    everything = with_bands(settings, 0.0, 0.0)
    async with open_store(everything, store_url) as store:
        async with moderating(fake, everything, detector, store):
            message = await post(fake, **image(fake, 2))
            (reply,) = await reply_to(fake, message)
            await fake.wait_for(lambda: reactions(fake, message))
        policy = await store.policy(GUILD, private=False)
    assert reply["content"].startswith("🤖 Likely AI-generated (")
    assert reactions(fake, message) == [MARKER_EMOJI]
    assert (policy.threshold, policy.uncertain_from, policy.mode) == (0.0, 0.0, Mode.REPLY_ALL)


async def test_uncertain_is_refused_above_the_threshold_and_follows_a_lower_one(
    fake: ModFakeDiscord, settings: Settings, detector: Detector, store: ModerationStore
) -> None:
    """`settings uncertain` saves 50 %, refuses 90 % (flag at 70 %); threshold 40 % brings it down."""
    async with moderating(fake, settings, detector, store):
        saved = await answered(
            fake, deepguard("settings", "uncertain", options=[option("percent", 50, 4)])
        )
        refused = await answered(
            fake, deepguard("settings", "uncertain", options=[option("percent", 90, 4)])
        )
        await answered(
            fake, deepguard("settings", "threshold", options=[option("percent", 40, 4)])
        )
        shown = await answered(fake, deepguard("settings", "show"))
    assert "• uncertain from: 50% (below it: likely real)" in ephemeral(saved)
    assert ephemeral(refused) == bands_refused(ENGLISH, 0.7, 0.9)
    assert "• flag at or above: 40% probability of AI" in ephemeral(shown)
    assert "• uncertain from: 40% (below it: likely real)" in ephemeral(shown)
    policy = await store.policy(GUILD, private=False)
    assert (policy.threshold, policy.uncertain_from) == (0.4, 0.4)
