"""A poster reports a flag as a mistake: it is recorded and counted, and they are told honestly
where it went (to the mod-log, nowhere because there is none, or nowhere because posting failed).

The real discord.py client runs through `discord_client.run` against the fake Discord, on the
real SQLite store.
"""

from __future__ import annotations

import pytest

from bots.i18n import english
from bots.moderation_replies import (
    REPORT_MODLOG_FAILED,
    REPORT_THANKS,
    report_after_review,
    report_without_modlog,
)
from config import Settings
from core.detector import Detector
from core.moderation.types import Action, FlagStatus, ModerationStore
from tests.discord import fake_discord as fd
from tests.discord.discord_harness import answered, image, post, reply_to
from tests.discord.discord_mod_harness import GUILD, moderating, policy, served_mod_fake
from tests.discord.discord_payloads import Json
from tests.discord.fake_discord_mod import (
    MODLOG_ID,
    ModFakeDiscord,
    click,
    custom_ids,
    deepguard,
    posted,
)
from tests.discord.test_mod_review import ephemeral

ENGLISH = english()

pytestmark = pytest.mark.slow

WARN_ONLY = frozenset({Action.WARN})

fake = pytest.fixture(served_mod_fake)


async def warned(fake: ModFakeDiscord, seed: int) -> Json:
    """Post an image and return the press of its warning's report button, by the poster."""
    message = await post(fake, **image(fake, seed))
    (warning,) = await reply_to(fake, message)
    return click(custom_ids(warning)[0], posted(warning), permissions="0")


async def test_without_a_modlog_a_report_is_recorded_counted_and_said_so(
    fake: ModFakeDiscord, settings: Settings, detector: Detector, store: ModerationStore
) -> None:
    """No moderators' channel: the poster is told nobody was, and the report shows in stats."""
    await store.save_policy(GUILD, policy(modlog=None, actions=WARN_ONLY))
    async with moderating(fake, settings, detector, store):
        report = await answered(fake, await warned(fake, 1))
        stats = await answered(fake, deepguard("stats"))
    assert ephemeral(report) == report_without_modlog(ENGLISH, "server")
    flag = await store.get_flag(1)
    assert flag is not None
    assert flag.reported_at is not None
    assert "1 reported as a mistake" in ephemeral(stats)
    assert [
        b for b in fake.bodies("/channels/\\d+/messages") if "reports flag" in b["content"]
    ] == []


async def test_a_report_the_modlog_refuses_is_recorded_and_said_so(
    fake: ModFakeDiscord, settings: Settings, detector: Detector, store: ModerationStore
) -> None:
    """The mod-log refusing the report's post does not turn into "the moderators were told"."""
    await store.save_policy(GUILD, policy(actions=WARN_ONLY | {Action.MODLOG}))
    async with moderating(fake, settings, detector, store):
        press = await warned(fake, 2)
        await fake.wait_for(lambda: fake.bodies(f"/channels/{MODLOG_ID}/messages"))
        refused = {"message": "Missing Permissions", "code": 50013}
        fake.fail("POST", f"/channels/{MODLOG_ID}/messages", 403, body=refused)
        report = await answered(fake, press)
    assert ephemeral(report) == REPORT_MODLOG_FAILED
    assert (await store.get_flag(1)).reported_at is not None  # type: ignore[union-attr]


async def test_a_report_with_a_modlog_is_posted_there(
    fake: ModFakeDiscord, settings: Settings, detector: Detector, store: ModerationStore
) -> None:
    """With a mod-log the report is posted there with the review buttons, and counted."""
    await store.save_policy(GUILD, policy(actions=WARN_ONLY | {Action.MODLOG}))
    async with moderating(fake, settings, detector, store):
        report = await answered(fake, await warned(fake, 3))
        stats = await answered(fake, deepguard("stats"))
    assert ephemeral(report) == REPORT_THANKS
    [notice] = [
        b for b in fake.bodies(f"/channels/{MODLOG_ID}/messages") if "reports flag" in b["content"]
    ]
    assert custom_ids(notice) == ["deepguard:confirm:1", "deepguard:dismiss:1"]
    assert "1 reported as a mistake" in ephemeral(stats)


@pytest.mark.parametrize("kind", ["confirm", "dismiss"])
async def test_a_report_on_a_reviewed_flag_says_how_it_was_reviewed(
    fake: ModFakeDiscord,
    settings: Settings,
    detector: Detector,
    store: ModerationStore,
    kind: str,
) -> None:
    """Once a moderator decided, the poster's report says so and records nothing."""
    await store.save_policy(GUILD, policy(actions=WARN_ONLY | {Action.MODLOG}))
    async with moderating(fake, settings, detector, store):
        press = await warned(fake, 4)
        notice = await modlog_post(fake)
        await answered(fake, click(f"deepguard:{kind}:1", notice))
        report = await answered(fake, {**press, "id": fd.snowflake()})
    flag = await store.get_flag(1)
    assert flag is not None
    assert ephemeral(report) == report_after_review(ENGLISH, flag.status)
    assert flag.status is (FlagStatus.CONFIRMED if kind == "confirm" else FlagStatus.DISMISSED)
    assert flag.reported_at is None


async def modlog_post(fake: ModFakeDiscord) -> Json:
    """The flag's mod-log post, as a message a button can be pressed on."""
    path = f"/channels/{MODLOG_ID}/messages"
    await fake.wait_for(lambda: fake.bodies(path))
    return posted(fake.bodies(path)[0], MODLOG_ID)
