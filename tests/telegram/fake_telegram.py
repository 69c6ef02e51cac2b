"""A fake Telegram Bot API on 127.0.0.1, for running the real python-telegram-bot client.

It serves what DeepGuard's bot calls (getMe, deleteWebhook, setWebhook, setMyCommands,
long-polling getUpdates honouring `offset`, getFile and the file download, sendMessage,
setMessageReaction, deleteMessage, restrictChatMember, getChatMember, getChatAdministrators),
records every request, and fails chosen calls (or a chosen chat's) in the Bot API's envelope
(`ok: false`, `retry_after`).
The answers are in `tests.telegram.telegram_api`, the message builders in `tests.telegram.telegram_messages`.

Typical use::

    async with FakeTelegram() as fake:
        fake.push(fake.photo(image_bytes(1)))     # the bot sees it on its next getUpdates
        reply = await fake.wait_for("sendMessage")
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Self

import pytest
from aiohttp import web

from tests.sample_images import image_bytes, pixel_bomb
from tests.telegram.telegram_api import BotApi, Call, Injected
from tests.telegram.telegram_harness import bot_settings, isolate_environment, running_bot
from tests.telegram.telegram_payloads import (
    ALICE,
    BOB,
    BOT_USER,
    TOKEN,
    Json,
    administrator,
    chat,
    user,
)

# The fake and its helpers, importable from here as before the split.
__all__ = [
    "ALICE",
    "BOB",
    "BOT_USER",
    "TOKEN",
    "Call",
    "FakeTelegram",
    "Json",
    "administrator",
    "bot_settings",
    "chat",
    "image_bytes",
    "isolate_environment",
    "isolated_fake",
    "pixel_bomb",
    "running_bot",
    "user",
]


class FakeTelegram(BotApi):
    """The server, its files and updates, and the log of calls; an async context manager."""

    def __init__(self, token: str = TOKEN) -> None:
        super().__init__(token)
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, access_log=None)  # access lines would carry the token
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._closing = True
        self._notify()  # wake held long polls, or cleanup would wait out their timeout
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    def fail(
        self,
        method: str,
        code: int,
        description: str,
        *,
        retry_after: int | None = None,
        chat_id: int | None = None,
    ) -> None:
        """Answer the next call of `method` ("download" for files), or the next one to
        `chat_id`, with an error envelope."""
        error: Json = {"ok": False, "error_code": code, "description": description}
        if retry_after is not None:
            error["parameters"] = {"retry_after": retry_after}
        self._failures[method.lower()].append(Injected(error, chat_id))

    def push(self, message: Json, *, edited: bool = False, update_id: int | None = None) -> Json:
        """Queue an update; the same `update_id` twice imitates a redelivery."""
        update = {
            "update_id": next(self._update_ids) if update_id is None else update_id,
            "edited_message" if edited else "message": message,
        }
        self._updates.append(update)
        self._notify()
        return update

    def push_update(self, kind: str, payload: Json) -> Json:
        """Queue an update of any kind (`callback_query`, `my_chat_member`, ...)."""
        update = {"update_id": next(self._update_ids), kind: payload}
        self._updates.append(update)
        self._notify()
        return update

    def sent(self, method: str = "sendMessage") -> list[Json]:
        """Parameters of the successful calls of `method`."""
        return [c.params for c in self.calls if c.method == method.lower() and not c.failed]

    def called(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method.lower()]

    @property
    def unconfirmed(self) -> list[Json]:
        """Updates the bot has not confirmed by a later `offset`: Telegram would redeliver them."""
        return list(self._updates)

    async def wait_for(self, method: str, count: int = 1, timeout_s: float = 15.0) -> list[Json]:
        """Wait until `method` succeeded `count` times; return their parameters."""
        await self.wait_until(lambda: len(self.sent(method)) >= count, timeout_s)
        return self.sent(method)

    async def wait_until(self, condition: Callable[[], bool], timeout_s: float = 15.0) -> None:
        """Wait until `condition()` holds, checking after every request."""
        async with asyncio.timeout(timeout_s):
            while not condition():
                await self._changed.wait()


async def isolated_fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeTelegram]:
    """A running fake, the environment isolated: `fake = pytest.fixture(isolated_fake)`."""
    isolate_environment(monkeypatch)
    async with FakeTelegram() as server:
        yield server
