"""A fake Discord on 127.0.0.1 for the real discord.py client: REST, gateway, CDN and media proxy.

Protocol facts it relies on are in /work/shared/notes/fake-servers.md (sections A and D):
discord.py parses JSON only when Content-Type is exactly `application/json`, interaction
callbacks must answer 200 with JSON, a 429 needs a `Via` header, and INTERACTION_CREATE needs
`attachment_size_limit`. Every request is recorded; tests inject errors with `fail()`.
The payloads it serves and answers with are in `tests.discord.discord_payloads`.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from tests.discord.discord_payloads import (
    APP_ID,
    APPLICATION,
    BOT,
    CHANNEL_ID,
    GUILD_ID,
    HUMAN,
    OTHER_CHANNEL_ID,
    PERMISSIONS,
    Json,
    bot_message,
    callback_answer,
    channel,
    guild,
    interaction,
    member,
    message,
    message_menu,
    ready,
    registered,
    slash_check,
    snowflake,
    sticker_item,
)

# The fake and its payloads, importable from here as before the split.
__all__ = [
    "API",
    "APP_ID",
    "BOT",
    "CHANNEL_ID",
    "GUILD_ID",
    "HUMAN",
    "MESSAGE_CONTENT",
    "OTHER_CHANNEL_ID",
    "PERMISSIONS",
    "FakeDiscord",
    "Fault",
    "Json",
    "Recorded",
    "channel",
    "guild",
    "interaction",
    "member",
    "message",
    "message_menu",
    "ready",
    "slash_check",
    "snowflake",
]

API = "/api/v10"
MESSAGE_CONTENT = 1 << 15


@dataclass
class Recorded:
    method: str
    path: str  # under /api/v10, or /cdn/... for downloads
    body: Any
    headers: dict[str, str]
    status: int = 0  # set once answered


@dataclass
class Fault:
    method: str
    path: str
    status: int
    body: Json
    headers: dict[str, str]
    times: int


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_BODY: web.RequestKey[Any] = web.RequestKey("body", object)


class FakeDiscord:
    """Start with `await fake.start()`; patch discord.py to `api_base` and `gateway_url`."""

    def __init__(
        self, *, message_content_granted: bool = True, preferred_locale: str = "en-US"
    ) -> None:
        self.message_content_granted = message_content_granted
        self.preferred_locale = preferred_locale  # the server's language, set in Discord
        self.requests: list[Recorded] = []
        self.files: dict[str, bytes] = {}
        self.media: dict[str, bytes] = {}  # the media proxy's
        self.messages: dict[str, Json] = {}  # what GET /channels/C/messages/M finds, by id
        self.unreadable: set[str] = set()  # channels whose messages the bot may not read (403)
        self.identifies: list[Json] = []
        self.resumes: list[Json] = []
        self.closes: list[int | None] = []  # close code of each ended gateway connection
        self._our_close: int | None = None
        self.ready = asyncio.Event()
        self.port = 0
        self._changed = asyncio.Condition()
        self._faults: list[Fault] = []
        self._events: list[Json] = []
        self._replay = 0
        self._ws: web.WebSocketResponse | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return self.url + API

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gw"

    async def start(self) -> None:
        app = web.Application(middlewares=[self._record])
        app.router.add_get("/gw", self._gateway)
        app.router.add_get("/cdn/{name:.+}", self._cdn)
        app.router.add_get("/media/{name:.+}", self._media)
        app.router.add_route("*", API + "/{tail:.*}", self._api)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- what tests call -------------------------------------------------------------------

    def fail(
        self,
        method: str,
        path: str,
        status: int,
        *,
        body: Json | None = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next `times` requests matching `path` (a regex) with an error."""
        body = body or {"message": "injected", "code": 0}
        self._faults.append(Fault(method, path, status, body, headers or {}, times))

    def file(self, name: str, data: bytes) -> str:
        """Serve `data` from the fake CDN; returns its URL."""
        self.files[name] = data
        return f"{self.url}/cdn/{name}"

    @property
    def media_url(self) -> str:
        """The media proxy's base (media.discordapp.net), which alone serves GIF stickers."""
        return f"{self.url}/media"

    def media_file(self, name: str, data: bytes) -> str:
        """Serve `data` from the fake media proxy; returns its URL."""
        self.media[name] = data
        return f"{self.media_url}/{name}"

    def sticker(self, data: bytes, format_type: int) -> Json:
        """A sticker item (1 PNG, 2 APNG, 3 Lottie, 4 GIF), its file served where Discord does:
        PNG, APNG (and Lottie's JSON) from the CDN, GIF from the media proxy only."""
        item = sticker_item(format_type)
        if format_type == 4:
            self.media_file(f"stickers/{item['id']}.gif", data)
        else:
            suffix = "json" if format_type == 3 else "png"
            self.file(f"stickers/{item['id']}.{suffix}", data)
        return item

    def attachment(self, name: str, data: bytes, content_type: str | None = "image/png") -> Json:
        url = self.file(f"attachments/{snowflake()}/{name}", data)
        found = {"id": snowflake(), "filename": name, "size": len(data), "url": url}
        found["proxy_url"] = url
        if content_type:
            found["content_type"] = content_type
        return found

    async def dispatch(self, event: str, data: Json) -> None:
        payload = {"op": 0, "t": event, "s": len(self._events) + 1, "d": data}
        self._events.append(payload)
        assert self._ws is not None, "no gateway connection"
        await self._ws.send_str(json.dumps(payload))

    async def reconnect(self, replay: int) -> None:
        """Drop the gateway as Discord does at times; replay the last `replay` events on RESUME."""
        self._replay = replay
        assert self._ws is not None
        self._our_close = 4000
        await self._ws.close(code=4000)

    def sent(self, path: str, method: str = "POST") -> list[Recorded]:
        """Requests whose path under /api/v10 matches the regex `path`."""
        return [
            r for r in self.requests if r.method == method and re.fullmatch(API + path, r.path)
        ]

    def replies(self, channel_id: str = CHANNEL_ID) -> list[Json]:
        """Messages the bot posted to a channel and Discord accepted."""
        posted = self.sent(f"/channels/{channel_id}/messages")
        return [r.body for r in posted if r.status == 200]

    async def wait_for(self, check: Callable[[], Any], within_s: float = 20.0) -> Any:
        """Wait until `check()` is truthy, re-checking after every request, and return it."""
        async with asyncio.timeout(within_s), self._changed:
            return await self._changed.wait_for(check)

    def gateway_bot(self) -> Json:
        """The answer to GET /gateway/bot: where to connect and how many shards to run."""
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return {"url": self.gateway_url, "shards": 1, "session_start_limit": limit}

    # --- server side -----------------------------------------------------------------------

    @web.middleware
    async def _record(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        request[_BODY] = body = await _body(request)
        recorded = Recorded(request.method, request.path, body, dict(request.headers))
        self.requests.append(recorded)
        try:
            response = self._fault(request) or await handler(request)
            recorded.status = response.status
            return response
        finally:
            async with self._changed:
                self._changed.notify_all()

    def _fault(self, request: web.Request) -> web.Response | None:
        for fault in self._faults:
            path_matches = re.fullmatch(API + fault.path, request.path)
            if fault.times and fault.method == request.method and path_matches:
                fault.times -= 1
                return _json(fault.body, fault.status, fault.headers)
        return None

    async def _cdn(self, request: web.Request) -> web.Response:
        return _served(self.files.get(request.match_info["name"]))

    async def _media(self, request: web.Request) -> web.Response:
        return _served(self.media.get(request.match_info["name"]))

    async def _api(self, request: web.Request) -> web.StreamResponse:
        tail, body = "/" + request.match_info["tail"], request[_BODY]
        if tail == "/users/@me":
            return _json(BOT)
        if tail == "/oauth2/applications/@me":
            return _json(APPLICATION)
        if tail == "/gateway/bot":  # only asked when no shard count is configured
            return _json(self.gateway_bot())
        if re.fullmatch(r"/applications/\d+(/guilds/\d+)?/commands", tail):
            return _json([registered(command) for command in body])
        if request.method == "GET" and (
            match := re.fullmatch(r"/channels/(\d+)/messages/(\d+)", tail)
        ):
            if match[1] in self.unreadable:
                return _json({"message": "Missing Access", "code": 50001}, 403)
            kept = self.messages.get(match[2])
            if kept is None or kept["channel_id"] != match[1]:
                return _json({"message": "Unknown Message", "code": 10008}, 404)
            return _json(kept)
        if match := re.fullmatch(r"/channels/(\d+)/messages", tail):
            return _json(bot_message(match[1], body))
        if match := re.fullmatch(r"/interactions/(\d+)/[^/]+/callback", tail):
            return _json(callback_answer(match[1], body))
        if re.fullmatch(r"/webhooks/\d+/[^/]+(/messages/@original)?", tail):
            return _json(bot_message(CHANNEL_ID, body))
        if request.method in ("PUT", "DELETE"):
            return web.Response(status=204)  # reactions and deletions
        return _json({"message": "404: Not Found", "code": 0}, 404)

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._ws, self._our_close = ws, None
        await ws.send_json({"op": 10, "d": {"heartbeat_interval": 41250}})
        async for frame in ws:
            if frame.type != WSMsgType.TEXT:
                break
            await self._on_frame(ws, json.loads(frame.data))
        self.closes.append(self._our_close or ws.close_code)
        async with self._changed:
            self._changed.notify_all()
        return ws

    async def _on_frame(self, ws: web.WebSocketResponse, payload: Json) -> None:
        op, data = payload["op"], payload["d"]
        if op == 1:
            await ws.send_json({"op": 11})
        elif op == 2:
            self.identifies.append(data)
            if data["intents"] & MESSAGE_CONTENT and not self.message_content_granted:
                self._our_close = 4014
                await ws.close(code=4014, message=b"Disallowed intent(s).")
                return
            shard = data.get("shard", [0, 1])  # AutoShardedClient reads it back from READY
            await ws.send_json(
                {"op": 0, "t": "READY", "s": 0, "d": {**ready(self.gateway_url), "shard": shard}}
            )
            created = guild(_CHANNELS, self.preferred_locale)
            await ws.send_json({"op": 0, "t": "GUILD_CREATE", "s": 0, "d": created})
            self.ready.set()
        elif op == 6:
            self.resumes.append(data)
            await ws.send_json({"op": 0, "t": "RESUMED", "s": len(self._events), "d": {}})
            for event in self._events[len(self._events) - self._replay :]:
                await ws.send_str(json.dumps(event))
            async with self._changed:
                self._changed.notify_all()


_CHANNELS = (CHANNEL_ID, OTHER_CHANNEL_ID)


def _served(data: bytes | None) -> web.Response:
    if data is None:
        return web.Response(status=404, text="expired")  # what the CDN says after expiry
    return web.Response(body=data, content_type="application/octet-stream")


async def _body(request: web.Request) -> Any:
    if request.content_type == "application/json":
        return await request.json()
    if request.content_type == "multipart/form-data":
        form = await request.post()
        files = [name for name in form if name.startswith("files")]
        uploaded = [_content(form[name]) for name in files]
        return {**json.loads(str(form["payload_json"])), "files": files, "uploaded": uploaded}
    return None


def _content(field: Any) -> bytes:
    """The bytes of an uploaded file part."""
    data: bytes = field.file.read() if isinstance(field, web.FileField) else str(field).encode()
    return data


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # Exactly `application/json`: discord.py reads `...; charset=utf-8` as text (notes, D1).
    headers = {"Content-Type": "application/json", **(headers or {})}
    return web.Response(body=json.dumps(data).encode(), status=status, headers=headers)
