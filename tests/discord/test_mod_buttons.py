"""Flag buttons pressed by the wrong people: forged or stale ids, other servers, other channels.

Anyone can send a component interaction with any `custom_id` to the bot's own message, so each
press is checked against the store and the member's rights where the flagged message is. The
real discord.py client runs through `discord_client.run` against the fake Discord.
"""

from __future__ import annotations

import logging

import pytest

from bots.moderation_replies import BUTTON_EXPIRED, REVIEW_ADMINS_ONLY
from config import Settings
from core.detector import Detector
from core.moderation.types import ChatKey, FlagStatus, ModerationStore
from tests.discord import fake_discord as fd
from tests.discord.discord_harness import answered
from tests.discord.discord_mod_harness import GUILD, moderating, policy, served_mod_fake
from tests.discord.discord_payloads import Json, snowflake
from tests.discord.fake_discord_mod import (
    MANAGE_MESSAGES,
    MODLOG_ID,
    NO_PERMISSIONS,
    OTHER_HUMAN,
    ModFakeDiscord,
    click,
    posted,
    role_create,
)
from tests.discord.test_mod_review import ephemeral, flagged

pytestmark = pytest.mark.slow

MOD_ROLE = snowflake()

fake = pytest.fixture(served_mod_fake)


def moderator_role() -> Json:
    """A role that may manage messages in every channel of the server."""
    created = role_create(MOD_ROLE)
    created["role"] = {**created["role"], "name": "mods", "permissions": MANAGE_MESSAGES}
    return created


def with_roles(press: Json, *roles: str) -> Json:
    return {**press, "member": {**press["member"], "roles": list(roles)}}


@pytest.mark.parametrize(
    "custom_id",
    [
        "deepguard:confirm:abc",
        "deepguard:nuke:1",
        "deepguard:confirm:" + "9" * 60,  # past the database's integer
        "deepguard:confirm:2147483648",
        "someone-else:1",
        "",
    ],
)
async def test_a_forged_or_stale_custom_id_has_expired(
    fake: ModFakeDiscord,
    settings: Settings,
    detector: Detector,
    store: ModerationStore,
    caplog: pytest.LogCaptureFixture,
    custom_id: str,
) -> None:
    """An id that does not parse is answered privately that the button expired; nothing else."""
    on = posted({"content": "flag"}, MODLOG_ID)
    async with moderating(fake, settings, detector, store):
        answer = await answered(fake, click(custom_id, on))
    assert ephemeral(answer) == BUTTON_EXPIRED
    assert fake.sent("/channels/\\d+/messages") == []
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_button_naming_another_servers_flag_has_expired(
    fake: ModFakeDiscord, settings: Settings, detector: Detector, store: ModerationStore
) -> None:
    """A flag of another server is not reviewed from this one, nor reported."""
    elsewhere = ChatKey("discord", snowflake())
    await store.save_policy(elsewhere, policy())
    await store.save_policy(GUILD, policy())
    async with moderating(fake, settings, detector, store):
        _, notice = await flagged(fake, 80)
    flag = await store.get_flag(1)
    assert flag is not None
    async with moderating(fake, settings, detector, store):
        other = {**notice, "guild_id": elsewhere.chat}
        presses = [
            {**click(f"deepguard:{kind}:1", other), "guild_id": elsewhere.chat}
            for kind in ("confirm", "dismiss", "report")
        ]
        answers = [await answered(fake, press) for press in presses]
    assert [ephemeral(answer) for answer in answers] == [BUTTON_EXPIRED] * 3
    reviewed = await store.get_flag(1)
    assert reviewed is not None
    assert reviewed.status is FlagStatus.OPEN


async def test_review_rights_are_checked_in_the_flagged_channel(
    fake: ModFakeDiscord, settings: Settings, detector: Detector, store: ModerationStore
) -> None:
    """Manage Messages in the mod-log alone is not enough; Manage Messages where the flagged
    message is suffices, whatever the mod-log allows."""
    await store.save_policy(GUILD, policy())
    async with moderating(fake, settings, detector, store):
        await fake.dispatch("GUILD_ROLE_CREATE", moderator_role())
        message, notice = await flagged(fake, 81)
        confirm = "deepguard:confirm:1"
        modlog_only = click(confirm, notice, user=OTHER_HUMAN, permissions=MANAGE_MESSAGES)
        refused = await answered(fake, modlog_only)
        assert (await store.get_flag(1)).status is FlagStatus.OPEN  # type: ignore[union-attr]
        moderator = click(confirm, notice, user=OTHER_HUMAN, permissions=NO_PERMISSIONS)
        done = await answered(fake, with_roles(moderator, MOD_ROLE))
    assert ephemeral(refused) == REVIEW_ADMINS_ONLY
    assert "Confirmed by" in done["data"]["content"]
    assert fake.sent(f"/channels/{fd.CHANNEL_ID}/messages/{message['id']}", "DELETE")
    flag = await store.get_flag(1)
    assert flag is not None
    assert flag.reviewer == OTHER_HUMAN["id"]
