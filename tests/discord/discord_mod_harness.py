"""Helpers for the Discord moderation tests: a server policy, a restartable bot, the store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any, TypeVar

import pytest

from bots.i18n import Catalogs
from config import Settings
from core.detector import Judge
from core.moderation.types import Action, ChatKey, ChatPolicy, Mode, ModerationStore
from tests.discord import fake_discord as fd
from tests.discord.discord_harness import bot_running, bot_settings, serving
from tests.discord.discord_payloads import Json
from tests.discord.fake_discord_mod import MODLOG_ID, ModFakeDiscord

T = TypeVar("T")
GUILD = ChatKey("discord", fd.GUILD_ID)
FLAG_ALL = ChatPolicy(
    mode=Mode.FLAG_ONLY,
    threshold=0.0,  # every image is flagged, whatever the random model says
    actions=frozenset({Action.REACT, Action.MODLOG}),
    modlog=MODLOG_ID,
    explicit_mode=True,
)


def policy(**changes: Any) -> ChatPolicy:
    """`FLAG_ALL` with some changes."""
    return replace(FLAG_ALL, **changes)


async def served_mod_fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[ModFakeDiscord]:
    """A served moderation fake: `fake = pytest.fixture(served_mod_fake)`."""
    async with serving(monkeypatch, ModFakeDiscord) as fake:
        assert isinstance(fake, ModFakeDiscord)
        yield fake


@asynccontextmanager
async def moderating(
    fake: ModFakeDiscord,
    settings: Settings,
    judge: Judge,
    store: ModerationStore,
    catalogs: Catalogs | None = None,
) -> AsyncIterator[None]:
    """The bot running on `store`; on exit it has stopped and finished its work in flight."""
    fake.ready.clear()  # a restart waits for its own connection
    async with bot_running(fake, bot_settings(settings, fake), judge, store, catalogs=catalogs):
        yield


async def until(check: Callable[[], Awaitable[T]], within_s: float = 10.0) -> T:
    """Poll an async `check` until it is truthy, for state only the store reveals."""
    async with asyncio.timeout(within_s):
        while not (result := await check()):  # noqa: ASYNC110 - the store offers no event
            await asyncio.sleep(0.02)
    return result


def reactions(fake: ModFakeDiscord, message: Json, method: str = "PUT") -> list[str]:
    path = f"/channels/{message['channel_id']}/messages/{message['id']}/reactions/.+/@me"
    return [r.path.split("/")[-2] for r in fake.sent(path, method)]
