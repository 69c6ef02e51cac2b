"""Discord moderation under races: settings changed at once, by admins or by the bot, all stay.

The real discord.py client runs through `discord_client.run` against the fake Discord, on the
real store: SQLite, and PostgreSQL too when DEEPGUARD_TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from config import Settings
from core.detector import Detector
from core.moderation.store import SqlStore
from core.moderation.types import Action, ChatKey, ChatPolicy
from tests.core import test_store as base
from tests.discord import fake_discord as fd
from tests.discord.discord_harness import callback_of, image, post
from tests.discord.discord_mod_harness import GUILD, moderating, policy, served_mod_fake, until
from tests.discord.fake_discord_mod import (
    MODLOG_ID,
    ModFakeDiscord,
    channel_option,
    deepguard,
    option,
)

pytestmark = pytest.mark.slow

fake = pytest.fixture(served_mod_fake)


# The database fixture of tests/core/test_store.py: SQLite, and PostgreSQL when configured.
db_url = base.db_url


class ReadsMeet(SqlStore):
    """A store whose next `meeting` policy reads (after `skip` more) wait for each other, up to
    a second, once read.

    That is the interleaving two admins' commands get when they arrive together: both read
    the policy before either writes it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.meeting = 0
        self.skip = 0  # reads let through first
        self._met = asyncio.Event()

    async def policy(self, chat: ChatKey, *, private: bool) -> ChatPolicy:
        read = await super().policy(chat, private=private)
        if self.skip:
            self.skip -= 1
        elif self.meeting:
            self.meeting -= 1
            if self.meeting == 0:
                self._met.set()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self._met.wait()
        return read


@asynccontextmanager
async def reads_meet(url: str) -> AsyncIterator[ReadsMeet]:
    async with ReadsMeet.open(url) as store:
        assert isinstance(store, ReadsMeet)
        yield store


async def test_two_admins_changing_settings_at_once_both_keep_their_change(
    fake: ModFakeDiscord, settings: Settings, detector: Detector, db_url: str
) -> None:
    """An exemption and a threshold sent at the same moment are both saved."""
    exempt, resolved = channel_option("channel", fd.OTHER_CHANNEL_ID)
    commands = [
        deepguard(
            "settings",
            "exempt-channel",
            options=[option("edit", "add", 3), exempt],
            resolved=resolved,
        ),
        deepguard("settings", "threshold", options=[option("percent", 40, 4)]),
    ]
    async with reads_meet(db_url) as store:
        await store.save_policy(GUILD, policy())
        async with moderating(fake, settings, detector, store):
            store.meeting = 2
            for command in commands:
                await fake.dispatch("INTERACTION_CREATE", command)
            for command in commands:
                await callback_of(fake, command)
            store.meeting = 0
        saved = await store.policy(GUILD, private=False)
    assert saved.exempt_channels == frozenset({fd.OTHER_CHANNEL_ID})
    assert saved.threshold == 0.4


async def test_an_action_switching_itself_off_keeps_an_admins_change_made_meanwhile(
    fake: ModFakeDiscord, settings: Settings, detector: Detector, db_url: str
) -> None:
    """A 403 on the reaction switches reacting off while an admin sets the threshold: both stay."""
    reaction = f"/channels/{fd.CHANNEL_ID}/messages/\\d+/reactions/.+/@me"
    fake.fail("PUT", reaction, 403, body={"message": "Missing Permissions", "code": 50013})
    threshold = deepguard("settings", "threshold", options=[option("percent", 40, 4)])
    async with reads_meet(db_url) as store:
        await store.save_policy(GUILD, policy())
        async with moderating(fake, settings, detector, store):
            store.skip, store.meeting = 1, 2  # the message's own read passes
            await post(fake, **image(fake, 1))
            await fake.wait_for(lambda: fake.sent(reaction, "PUT"))
            await fake.dispatch("INTERACTION_CREATE", threshold)
            await callback_of(fake, threshold)
            await fake.wait_for(lambda: fake.bodies(f"/channels/{MODLOG_ID}/messages"))
            await until(lambda: _disabled(store))
            store.meeting = 0
        saved = await store.policy(GUILD, private=False)
    assert saved.disabled == frozenset({(fd.CHANNEL_ID, Action.REACT)})
    assert saved.threshold == 0.4


async def _disabled(store: SqlStore) -> bool:
    return bool((await store.policy(GUILD, private=False)).disabled)
