"""Run the project's Telegram bot against `FakeTelegram`, as `deepguard run` would."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest

from bots.i18n import Catalogs
from bots.telegram import application as telegram_app
from config import Settings, TelegramSettings
from core.detector import Judge
from core.moderation.types import ModerationStore
from tests.core.memory_store import MemoryStore
from tests.telegram.telegram_payloads import Json

if TYPE_CHECKING:
    from tests.telegram.fake_telegram import FakeTelegram


def bot_settings(settings: Settings, fake: FakeTelegram, **telegram: Any) -> Settings:
    """`settings` with the Telegram bot on and pointed at `fake`; short waits for tests."""
    defaults: Json = {
        "token": fake.token,
        "base_url": fake.base_url,
        "base_file_url": fake.base_file_url,
        "poll_timeout_s": 1.0,
        "album_wait_s": 0.3,
        "stop_grace_s": 5.0,
    }
    group = TelegramSettings(**(defaults | telegram))
    return settings.model_copy(update={"telegram": group})


WEBHOOK_SECRET = "s3cret-token-of-32-random-chars-x"


def webhook_settings(settings: Settings, fake: FakeTelegram) -> tuple[Settings, str]:
    """`bot_settings` in webhook mode on a free loopback port; and the URL to post updates to."""
    port = free_port()
    hooked = bot_settings(
        settings,
        fake,
        mode="webhook",
        webhook_listen="127.0.0.1",
        webhook_port=port,
        webhook_path="hook",
        webhook_url="https://bot.example.org/hook",
        webhook_secret=WEBHOOK_SECRET,
    )
    return hooked, f"http://127.0.0.1:{port}/hook"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def post_update(url: str, update: Json, secret: str | None) -> int:
    """POST like Telegram does (with `secret` in its header, if any), retrying while the
    webhook server is still coming up; the HTTP status."""
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    async with aiohttp.ClientSession() as session, asyncio.timeout(10):
        while True:
            try:
                async with session.post(url, data=json.dumps(update), headers=headers) as answer:
                    return answer.status
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)


def isolate_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy for loopback (httpx honours proxy variables), and PTB's timedelta opt-in.

    PTB 22's own `RetryAfter.__init__` reads its deprecated int `retry_after`, warning each
    time unless `PTB_TIMEDELTA` opts in; with `filterwarnings = error` that warning would
    replace the RetryAfter the rate limiter must see.
    """
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


@dataclass(frozen=True, slots=True)
class RunningBot:
    task: asyncio.Task[None]
    stop: asyncio.Event


@asynccontextmanager
async def running_bot(
    fake: FakeTelegram,
    settings: Settings,
    judge: Judge,
    *,
    ready: str = "getUpdates",
    store: ModerationStore | None = None,
    catalogs: Catalogs | None = None,
) -> AsyncIterator[RunningBot]:
    """Run `telegram_app.run` as `deepguard run` does; stop it and await its return on exit.

    `catalogs` are the real ones unless a test brings its own (pseudo-translated ones).
    """
    stop = asyncio.Event()
    running = telegram_app.run(
        settings,
        judge,
        stop,
        store=store or MemoryStore(),
        catalogs=catalogs or Catalogs.load(),
    )
    bot = RunningBot(asyncio.create_task(running), stop)
    waiter = asyncio.ensure_future(fake.wait_for(ready))
    await asyncio.wait({bot.task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if bot.task.done():
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        bot.task.result()  # raises what stopped the bot early
    await waiter
    try:
        yield bot
    finally:
        stop.set()
        async with asyncio.timeout(10):
            await bot.task
