"""A fake Telegram Bot API on 127.0.0.1, for running the real python-telegram-bot client.

It serves what DeepGuard's bot calls (getMe, deleteWebhook, setWebhook, setMyCommands,
long-polling getUpdates honouring `offset`, getFile and the file download, sendMessage,
setMessageReaction, deleteMessage, getChatMember, getChatAdministrators), records every
request, and fails chosen calls in the Bot API's envelope (`ok: false`, `retry_after`).
PTB sends form-encoded bodies whose non-string values are JSON (see fake-servers.md, C2).

Typical use::

    async with FakeTelegram() as fake:
        fake.push(fake.photo(image_bytes(1)))     # the bot sees it on its next getUpdates
        reply = await fake.wait_for("sendMessage")
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import struct
import time
import zlib
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import pytest
from aiohttp import web
from PIL import Image

from bots import telegram_bot
from config import Settings, TelegramSettings
from core import Judge
from core.moderation import ModerationStore
from tests.memory_store import MemoryStore

TOKEN = "123456:TEST-secret-token-do-not-log"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "DeepGuard", "username": "deepguard_bot"}
ALICE, BOB = 42, 43
Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Call:
    """One request the bot made; `failed` when the fake answered it with an injected error."""

    method: str
    params: Json
    failed: bool = False


def user(user_id: int) -> Json:
    return {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}


def chat(chat_id: int) -> Json:
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": f"User{chat_id}"}
    return {"id": chat_id, "type": "supergroup", "title": "Test group", "is_forum": True}


class FakeTelegram:
    """The server, its files and updates, and the log of calls; an async context manager."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: list[Call] = []
        self._ids = itertools.count(1)
        self._update_ids = itertools.count(1)
        self._updates: list[Json] = []
        self._files: dict[str, tuple[str, bytes, int]] = {}  # file_id -> path, bytes, size
        self._downloads: dict[str, bytes] = {}
        self._failures: defaultdict[str, deque[Json]] = defaultdict(deque)
        self._changed = asyncio.Event()  # replaced after each set: one generation per change
        self._closing = False
        self._runner: web.AppRunner | None = None
        self.port = 0
        # Per-instance answers (method in lower case -> result), ahead of the shared table.
        self.answers: dict[str, Callable[[Json], Any]] = {}

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

    # --- what a test does -------------------------------------------------------------------

    def fail(
        self, method: str, code: int, description: str, *, retry_after: int | None = None
    ) -> None:
        """Answer the next call of `method` ("download" for files) with an error envelope."""
        error: Json = {"ok": False, "error_code": code, "description": description}
        if retry_after is not None:
            error["parameters"] = {"retry_after": retry_after}
        self._failures[method.lower()].append(error)

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

    # --- building messages ------------------------------------------------------------------

    def add_file(self, data: bytes, *, size: int | None = None, folder: str = "photos") -> Json:
        """Host `data` for getFile; `size` declares another size than the real one."""
        n = next(self._ids)
        file_id, path = f"file-{n}", f"{folder}/file_{n}"
        declared = len(data) if size is None else size
        self._files[file_id] = (path, data, declared)
        self._downloads[path] = data
        return {"file_id": file_id, "file_unique_id": f"unique-{n}", "file_size": declared}

    def message(self, *, chat_id: int = ALICE, user_id: int = ALICE, **fields: Any) -> Json:
        return {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": chat(chat_id),
            "from": user(user_id),
            **fields,
        }

    def photo(self, data: bytes, *, size: int | None = None, **fields: Any) -> Json:
        """A photo in two sizes, as Telegram sends them: a thumbnail, then `data`."""
        thumb = {**self.add_file(data[:64]), "width": 90, "height": 90}
        full = {**self.add_file(data, size=size), "width": 800, "height": 800}
        return self.message(photo=[thumb, full], **fields)

    def document(self, data: bytes, name: str, mime: str | None, **fields: Any) -> Json:
        size = fields.pop("size", None)
        document = {**self.add_file(data, size=size, folder="documents"), "file_name": name}
        if mime is not None:
            document["mime_type"] = mime
        return self.message(document=document, **fields)

    def sticker(self, data: bytes, *, animated: bool = False, **fields: Any) -> Json:
        sticker = {
            **self.add_file(data, folder="stickers"),
            **{"width": 512, "height": 512, "type": "regular"},
            **{"is_animated": animated, "is_video": False},
        }
        return self.message(sticker=sticker, **fields)

    def command(self, text: str, *, reply_to: Json | None = None, **fields: Any) -> Json:
        length = len(text.split()[0])
        entities = [{"type": "bot_command", "offset": 0, "length": length}]
        if reply_to is not None:
            fields["reply_to_message"] = reply_to
        return self.message(text=text, entities=entities, **fields)

    # --- serving ----------------------------------------------------------------------------

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"].lower()
        params = {key: _value(key, value) for key, value in (await request.post()).items()}
        failure = self._failures[method].popleft() if self._failures[method] else None
        if request.match_info["token"] != self.token:
            failure = {"ok": False, "error_code": 401, "description": "Unauthorized"}
        self.calls.append(Call(method, params, failed=failure is not None))
        self._notify()
        if failure is not None:
            return _envelope(failure)
        if method == "getupdates":
            return _envelope({"ok": True, "result": await self._poll(params)})
        if method in self.answers:
            return _envelope({"ok": True, "result": self.answers[method](params)})
        handler = _ANSWERS.get(method)
        if handler is None:
            return _envelope({"ok": False, "error_code": 404, "description": "Not Found"})
        return _envelope({"ok": True, "result": handler(self, params)})

    async def _poll(self, params: Json) -> list[Json]:
        """Long poll: hold until an update at or past `offset` exists, or `timeout` passes."""
        offset = int(params.get("offset") or 0)
        self._updates = [u for u in self._updates if u["update_id"] >= offset]  # confirmed
        deadline = asyncio.get_running_loop().time() + float(params.get("timeout") or 0)
        while not (self._updates or self._closing):
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except TimeoutError:
                break
        return list(self._updates[: int(params.get("limit") or 100)])

    async def _download(self, request: web.Request) -> web.Response:
        data = self._downloads.get(request.match_info["path"])
        failure = self._failures["download"].popleft() if self._failures["download"] else None
        self.calls.append(
            Call("download", {"path": request.match_info["path"]}, failure is not None)
        )
        self._notify()
        if failure is not None:
            return _envelope(failure)
        if request.match_info["token"] != self.token or data is None:
            return web.Response(status=404)
        return web.Response(body=data, content_type="application/octet-stream")

    def _get_file(self, params: Json) -> Json:
        file_id = str(params["file_id"])
        path, _, size = self._files[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "file_size": size,
            "file_path": path,
        }

    def _send_message(self, params: Json) -> Json:
        return {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": chat(int(params["chat_id"])),
            "from": BOT_USER,
            "text": params["text"],
        }

    def chat_member(self, params: Json) -> Json:
        user_id = int(params["user_id"])
        if user_id == BOT_USER["id"]:
            return administrator(BOT_USER)
        return {"status": "member", "user": user(user_id)}


def administrator(member: Json) -> Json:
    rights = [
        "can_manage_chat",
        "can_delete_messages",
        "can_manage_video_chats",
        "can_restrict_members",
        "can_promote_members",
        "can_change_info",
        "can_invite_users",
        "can_post_stories",
        "can_edit_stories",
        "can_delete_stories",
    ]
    flags = dict.fromkeys(rights, False) | {"can_manage_chat": True, "can_delete_messages": True}
    return {
        "status": "administrator",
        "user": member,
        "can_be_edited": False,
        "is_anonymous": False,
        **flags,
    }


def _value(key: str, raw: object) -> Any:
    """PTB sends strings raw and everything else as JSON."""
    if not isinstance(raw, str) or key in {"text", "caption"}:
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _envelope(body: Json) -> web.Response:
    status = 200 if body["ok"] else int(body["error_code"])
    return web.json_response(body, status=status)


_ANSWERS: dict[str, Any] = {
    "getme": lambda fake, params: BOT_USER,
    "deletewebhook": lambda fake, params: True,
    "setwebhook": lambda fake, params: True,
    "setmycommands": lambda fake, params: True,
    "setmessagereaction": lambda fake, params: True,
    "deletemessage": lambda fake, params: True,
    "getfile": FakeTelegram._get_file,
    "sendmessage": FakeTelegram._send_message,
    "getchatmember": FakeTelegram.chat_member,
    "getchatadministrators": lambda fake, params: [
        {"status": "creator", "user": user(ALICE), "is_anonymous": False},
        administrator(BOT_USER),
    ],
}


# --- running the project's bot against the fake -------------------------------------------------


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
) -> AsyncIterator[RunningBot]:
    """Run `telegram_bot.run` as `deepguard run` does; stop it and await its return on exit."""
    stop = asyncio.Event()
    running = telegram_bot.run(settings, judge, stop, store=store or MemoryStore())
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


# --- images ------------------------------------------------------------------------------------


def image_bytes(seed: int, fmt: str = "PNG", side: int = 48) -> bytes:
    """A small picture, different for each seed so the Detector's cache does not answer."""
    image = Image.new("RGB", (side, side), ((seed * 53) % 256, (seed * 97) % 256, 128))
    image.putpixel((seed % side, (seed // side) % side), (255, 255, 255))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def pixel_bomb(side: int = 20_000) -> bytes:
    """A 100-byte PNG whose header declares `side` x `side` pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\0" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", pixels)
        + chunk(b"IEND", b"")
    )
