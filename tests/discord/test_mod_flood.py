"""A flood of images in a moderated Discord server is slowed down, never let through unscanned:
the real discord.py client against the fake Discord, the tiny model and the real store. The
policy's threshold of 0.0 flags every image, so each scanned image shows as a marker reaction.
"""

from __future__ import annotations

import pytest

from bots import replies
from bots.moderation_replies import MARKER_EMOJI
from config import Settings, ThrottleSettings
from core.detector import Detector
from core.moderation.types import Action, ModerationStore
from tests.discord import fake_discord as fd
from tests.discord.discord_harness import bot_running, bot_settings, image, post, reply_to
from tests.discord.discord_mod_harness import GUILD, policy, reactions, served_mod_fake, until
from tests.discord.discord_payloads import Json
from tests.discord.fake_discord_mod import ModFakeDiscord
from tests.judges import DROPPED, dropped

pytestmark = pytest.mark.slow

DM_CHANNEL = fd.snowflake()
fake = pytest.fixture(served_mod_fake)


def throttled(settings: Settings, fake: ModFakeDiscord, **throttle: float) -> Settings:
    """The bot's settings with a throttle of its own and a short stop grace."""
    limits = ThrottleSettings.model_validate(throttle)
    return bot_settings(settings.model_copy(update={"throttle": limits}), fake, stop_grace_s=0.5)


async def post_direct(fake: ModFakeDiscord, seed: int) -> Json:
    """A direct message to the bot with one image (no server)."""
    payload = fd.message(**image(fake, seed), channel_id=DM_CHANNEL)
    del payload["guild_id"], payload["member"]
    await fake.dispatch("MESSAGE_CREATE", payload)
    return payload


async def test_a_flood_in_a_flag_only_server_is_all_scanned(
    fake: ModFakeDiscord, settings: Settings, detector: Detector, store: ModerationStore
) -> None:
    """Six images against a burst of two: all six are flagged, and the member is told nothing."""
    await store.save_policy(GUILD, policy(actions=frozenset({Action.REACT})))
    fast = throttled(settings, fake, burst=2, per_minute=1200.0)  # a token every 50 ms
    async with bot_running(fake, fast, detector, store):
        posted = [await post(fake, **image(fake, 40 + n)) for n in range(6)]
        await fake.wait_for(lambda: all(reactions(fake, message) for message in posted))
    assert [reactions(fake, message) for message in posted] == [[MARKER_EMOJI]] * 6
    assert fake.replies(fd.CHANNEL_ID) == []


async def test_past_the_waiting_limit_images_drop_and_a_stop_does_not_hang(
    fake: ModFakeDiscord,
    settings: Settings,
    detector: Detector,
    store: ModerationStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Burst 1, one may wait: of three images one is flagged, one waits and one drops, logged;
    the stop cancels the waiting one instead of waiting for a token that is minutes away."""
    await store.save_policy(GUILD, policy(actions=frozenset({Action.REACT})))
    slow = throttled(settings, fake, burst=1, per_minute=0.01, max_deferred=1)
    async with bot_running(fake, slow, detector, store):
        posted = [await post(fake, **image(fake, 50 + n)) for n in range(3)]
        await fake.wait_for(lambda: any(reactions(fake, message) for message in posted))
        await until(lambda: dropped(caplog))
    assert sum(len(reactions(fake, message)) for message in posted) == 1
    assert fake.replies(fd.CHANNEL_ID) == []
    assert [r.levelname for r in caplog.records if DROPPED in r.message] == ["WARNING"]


async def test_a_direct_flood_is_still_refused_with_one_notice(
    fake: ModFakeDiscord, settings: Settings, detector: Detector, store: ModerationStore
) -> None:
    """In a DM the images past the burst are refused, and the user told once."""
    slow = throttled(settings, fake, burst=2, per_minute=0.01)
    async with bot_running(fake, slow, detector, store):
        posted = [await post_direct(fake, 60 + n) for n in range(3)]
        answers = [(await reply_to(fake, message))[0]["content"] for message in posted]
        await post_direct(fake, 63)
    assert sorted(replies.THROTTLED in text for text in answers) == [False, False, True]
    assert len(fake.replies(DM_CHANNEL)) == 3
