"""How the fake Telegram answers the Bot API: each call recorded, chosen calls failed.

PTB sends form-encoded bodies whose non-string values are JSON (see fake-servers.md, C2);
answers and errors come back in the Bot API's envelope (`ok`, `result` or `error_code`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.telegram.telegram_messages import MessageFactory
from tests.telegram.telegram_payloads import ALICE, BOT_USER, Json, administrator, chat, user


@dataclass(frozen=True, slots=True)
class Injected:
    """An error envelope to answer with; with `chat_id`, only a call to that chat gets it."""

    envelope: Json
    chat_id: int | None = None


@dataclass(frozen=True, slots=True)
class Call:
    """One request the bot made; `failed` when the fake answered it with an injected error."""

    method: str
    params: Json
    failed: bool = False


class BotApi(MessageFactory):
    """The request handlers and the state they share with the test's side of the fake."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token
        self.calls: list[Call] = []
        self._update_ids = itertools.count(1)
        self._updates: list[Json] = []
        self._failures: defaultdict[str, deque[Injected]] = defaultdict(deque)
        self._changed = asyncio.Event()  # replaced after each set: one generation per change
        self._closing = False
        # Per-instance answers (method in lower case -> result), ahead of the shared table.
        self.answers: dict[str, Callable[[Json], Any]] = {}

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"].lower()
        params = {key: _value(key, value) for key, value in (await request.post()).items()}
        failure = self._failure(method, params)
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

    def _failure(self, method: str, params: Json) -> Json | None:
        """The first injected error that applies to this call, used up."""
        for injected in self._failures[method]:
            if injected.chat_id is None or str(params.get("chat_id")) == str(injected.chat_id):
                self._failures[method].remove(injected)
                return injected.envelope
        return None

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
        failure = self._failure("download", {})
        self.calls.append(
            Call("download", {"path": request.match_info["path"]}, failure is not None)
        )
        self._notify()
        if failure is not None:
            return _envelope(failure)
        if request.match_info["token"] != self.token or data is None:
            return web.Response(status=404)
        return web.Response(body=data, content_type="application/octet-stream")

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
    "restrictchatmember": lambda fake, params: True,
    "deletemessage": lambda fake, params: True,
    "getfile": BotApi._get_file,
    "sendmessage": BotApi._send_message,
    "getchatmember": BotApi.chat_member,
    "getchatadministrators": lambda fake, params: [
        {"status": "creator", "user": user(ALICE), "is_anonymous": False},
        administrator(BOT_USER),
    ],
}
