"""Discord and an image's own declarations, end to end: real discord.py, fake Discord.

Attachments are read by their `url` (the file as posted, never the media proxy's re-encode), so
a PNG's generator metadata survives. The servers here flag only at 100 %, which the tiny random
model never reaches: only the declaration can flag.
"""

from __future__ import annotations

import pytest

from bots import replies
from bots.moderation_replies import MARKER_EMOJI
from config import Settings
from core.detector import Detector
from core.moderation.types import Action, ChatPolicy, Mode, ModerationStore
from tests.discord.discord_harness import answered, post, reply_to
from tests.discord.discord_mod_harness import GUILD, moderating, reactions, served_mod_fake
from tests.discord.discord_payloads import Json
from tests.discord.fake_discord_mod import ModFakeDiscord, deepguard, option
from tests.provenance_images import A1111, png_with_texts

pytestmark = pytest.mark.slow

METADATA_LINE = "Metadata: Stable Diffusion parameters found (model v1-5-pruned-emaonly)"

fake = pytest.fixture(served_mod_fake)


def server(*, declared_ai_is_fake: bool = True) -> ChatPolicy:
    return ChatPolicy(
        mode=Mode.REPLY_ALL,
        threshold=1.0,
        uncertain_from=0.0,
        actions=frozenset({Action.REACT}),
        explicit_mode=True,
        declared_ai_is_fake=declared_ai_is_fake,
    )


def ephemeral(callback: Json) -> str:
    assert callback["data"]["flags"] & 64
    return str(callback["data"]["content"])


async def test_a1111_metadata_is_declared_and_flagged(
    fake: ModFakeDiscord, settings: Settings, detector: Detector, store: ModerationStore
) -> None:
    """An attachment with AUTOMATIC1111 parameters: declared AI, its line, and the marker."""
    await store.save_policy(GUILD, server())
    async with moderating(fake, settings, detector, store):
        attachment = fake.attachment("sd.png", png_with_texts({"parameters": A1111}))
        message = await post(fake, attachments=[attachment])
        (reply,) = await reply_to(fake, message)
        await fake.wait_for(lambda: reactions(fake, message))
    lines = reply["content"].splitlines()
    assert lines[0].startswith(replies.DECLARED.partition("{")[0])
    assert lines[1] == METADATA_LINE
    assert reactions(fake, message) == [MARKER_EMOJI]


async def test_declared_off_lets_the_model_alone_decide_and_still_shows_the_line(
    fake: ModFakeDiscord, settings: Settings, detector: Detector, store: ModerationStore
) -> None:
    """`/deepguard settings declared on:false`: the band wording, no marker, the line shown."""
    await store.save_policy(GUILD, server())
    async with moderating(fake, settings, detector, store):
        switched = await answered(
            fake, deepguard("settings", "declared", options=[option("on", False, 5)])
        )
        attachment = fake.attachment("sd.png", png_with_texts({"parameters": A1111}))
        message = await post(fake, attachments=[attachment])
        (reply,) = await reply_to(fake, message)
    assert "• declared AI counts as AI-generated: off" in ephemeral(switched)
    assert not (await store.policy(GUILD, private=False)).declared_ai_is_fake
    lines = reply["content"].splitlines()
    assert lines[0].startswith("❔ Uncertain (")
    assert lines[1] == METADATA_LINE
    assert reactions(fake, message) == []
