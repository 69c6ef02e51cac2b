"""Run the project's Discord bot against `FakeDiscord`, as `deepguard run` would, and talk to it.

The only patches are the two class attributes the notes recommend (`Route.BASE` and
`DiscordWebSocket.DEFAULT_GATEWAY`); the link guard is widened to loopback in settings only.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import discord.gateway
import discord.http
import pytest
import yarl
from aiohttp.abc import AbstractResolver

from bots.discord import client as discord_client
from bots.i18n import Catalogs
from config import DiscordSettings, Settings
from core.detector import Judge
from core.moderation.types import ModerationStore
from tests.core.memory_store import MemoryStore
from tests.discord.discord_payloads import APP_ID, Json, message
from tests.discord.fake_discord import FakeDiscord
from tests.fakes import png_bytes

F = TypeVar("F", bound=FakeDiscord)


@asynccontextmanager
async def pointed_at(monkeypatch: pytest.MonkeyPatch, fake: F) -> AsyncIterator[F]:
    """Start `fake` and point discord.py at it (the only two patches the tests make)."""
    await fake.start()
    monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway_url)
    )
    try:
        yield fake
    finally:
        await fake.close()


@asynccontextmanager
async def serving(
    monkeypatch: pytest.MonkeyPatch, fake_class: type[FakeDiscord] = FakeDiscord, **options: Any
) -> AsyncIterator[FakeDiscord]:
    """Run a fake Discord and point discord.py at it."""
    async with pointed_at(monkeypatch, fake_class(**options)) as fake:
        yield fake


async def served_fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    """A running fake Discord, discord.py pointed at it: `fake = pytest.fixture(served_fake)`."""
    async with serving(monkeypatch) as fake:
        yield fake


async def served_bot(
    fake: FakeDiscord, settings: Settings, detector: Judge
) -> AsyncIterator[Settings]:
    """The bot serving `fake`; yields its settings: `bot = pytest.fixture(served_bot)`."""
    configured = bot_settings(settings, fake)
    async with bot_running(fake, configured, detector):
        yield configured


@asynccontextmanager
async def bot_running(
    fake: FakeDiscord,
    settings: Settings,
    detector: Judge,
    store: ModerationStore | None = None,
    resolver: AbstractResolver | None = None,
    catalogs: Catalogs | None = None,
) -> AsyncIterator[asyncio.Event]:
    """Start the bot as `deepguard run` does; yield its stop event; stop it and wait on exit.

    `resolver` answers the link fetcher's DNS questions (Discord's own hosts, on loopback);
    `catalogs` are the project's own unless a test brings its own.
    """
    stop = asyncio.Event()
    store = store or MemoryStore()
    catalogs = catalogs or Catalogs.load()
    bot = asyncio.create_task(
        discord_client.run(
            settings, detector, stop, store=store, catalogs=catalogs, resolver=resolver
        ),
        name="bot under test",
    )
    connected = asyncio.create_task(fake.ready.wait())
    await asyncio.wait({bot, connected}, timeout=20, return_when=asyncio.FIRST_COMPLETED)
    connected.cancel()
    if bot.done():
        bot.result()
        raise AssertionError("the bot returned during start-up")
    try:
        yield stop
    finally:
        stop.set()
        async with asyncio.timeout(20):
            await bot


# --- the bot's side: settings, posting, waiting for answers ---------------------------------

TOKEN = "MTAxNTk.fake-discord-token.Gx9_secret"


def bot_settings(settings: Settings, fake: FakeDiscord, **discord: object) -> Settings:
    """`settings` with a token, and the link guard widened to the fake on loopback only."""
    values: dict[str, object] = {
        "token": TOKEN,
        "link_hosts": ["127.0.0.1"],
        "allow_http": True,
        "allow_private_addresses": True,
        "cdn_base_url": f"{fake.url}/cdn",
        "media_base_url": fake.media_url,
        "fetch_timeout_s": 5.0,
    }
    values.update(discord)
    return settings.model_copy(update={"discord": DiscordSettings.model_validate(values)})


async def post(fake: FakeDiscord, event: str = "MESSAGE_CREATE", **parts: Any) -> Json:
    """Dispatch a message (by default a new one) from a member; returns its payload."""
    payload = message(**parts)
    await fake.dispatch(event, payload)
    return payload


def image(fake: FakeDiscord, seed: int, **parts: Any) -> dict[str, Any]:
    """Keyword arguments of `post` for a message with one distinct image attached."""
    return {"attachments": [fake.attachment(f"i{seed}.png", png_bytes(seed))], **parts}


async def reply_to(fake: FakeDiscord, payload: Json, count: int = 1) -> list[Json]:
    """Wait until the bot has sent `count` replies to `payload`; return their bodies."""

    def found() -> list[Json]:
        return [
            body
            for body in fake.replies(payload["channel_id"])
            if str(body["message_reference"]["message_id"]) == payload["id"]
        ]

    await fake.wait_for(lambda: len(found()) >= count)
    return found()


async def callback_of(fake: FakeDiscord, payload: Json) -> Json:
    """Wait for the bot's response to an interaction; return the callback body."""

    def found() -> list[Json]:
        return [r.body for r in fake.sent(f"/interactions/{payload['id']}/[^/]+/callback")]

    await fake.wait_for(found)
    return found()[0]


async def answered(fake: FakeDiscord, payload: Json) -> Json:
    """Dispatch an interaction and return the bot's callback body."""
    await fake.dispatch("INTERACTION_CREATE", payload)
    return await callback_of(fake, payload)


async def followup_of(fake: FakeDiscord, payload: Json) -> Json:
    """Wait for the follow-up message that completes a deferred interaction."""

    def found() -> list[Json]:
        return [r.body for r in fake.sent(f"/webhooks/{APP_ID}/{payload['token']}")]

    await fake.wait_for(found)
    return found()[0]


async def eventually(check: Callable[[], Any], within_s: float = 10.0) -> None:
    """Poll `check` until it holds; for state no request reveals, such as log records."""
    async with asyncio.timeout(within_s):
        while not check():  # noqa: ASYNC110 - logging offers nothing to await
            await asyncio.sleep(0.01)
