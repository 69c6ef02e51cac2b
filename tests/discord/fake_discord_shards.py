"""`FakeDiscord` with one gateway connection per shard, as Discord shards a large bot.

A guild lives on shard `(guild_id >> 22) % shard_count`: that shard's READY lists it, it gets
its GUILD_CREATE there, and its events arrive on that connection only. `GET /gateway/bot`
recommends `shard_count`, which a client asks only when it was given no count of its own.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from aiohttp import WSMsgType, web

from tests.discord.discord_payloads import Json, channel, guild, message, ready, snowflake
from tests.discord.fake_discord import FakeDiscord


def guild_on(shard: int, shard_count: int) -> str:
    """A fresh guild id that Discord would place on `shard`."""
    made = int(snowflake())
    created = made >> 22
    created += (shard - created) % shard_count
    return str((created << 22) | (made & ((1 << 22) - 1)))


def shard_of(guild_id: str, shard_count: int) -> int:
    return (int(guild_id) >> 22) % shard_count


def guild_payload(guild_id: str, channel_id: str) -> Json:
    """The GUILD_CREATE of the fake's guild, renumbered to `guild_id` with one channel."""
    payload = guild([])
    payload["id"] = payload["roles"][0]["id"] = guild_id  # @everyone shares the guild's id
    payload["channels"] = [{**channel(channel_id), "guild_id": guild_id}]
    return payload


class ShardedFakeDiscord(FakeDiscord):
    """Serves `guild_ids` (one channel each, `channels[guild_id]`) over per-shard connections."""

    def __init__(self, shard_count: int, guild_ids: Sequence[str]) -> None:
        super().__init__()
        self.shard_count = shard_count
        self.channels = {guild_id: snowflake() for guild_id in guild_ids}
        self.connections: dict[int, web.WebSocketResponse] = {}

    def gateway_bot(self) -> Json:
        return {**super().gateway_bot(), "shards": self.shard_count}

    def identified_shards(self) -> list[list[int]]:
        return [identify["shard"] for identify in self.identifies]

    async def post_in(self, guild_id: str, **parts: Any) -> Json:
        """A member's message in `guild_id`, sent on the shard that guild lives on."""
        payload = {**message(channel_id=self.channels[guild_id], **parts), "guild_id": guild_id}
        connection = self.connections[shard_of(guild_id, self.shard_count)]
        await connection.send_str(
            json.dumps({"op": 0, "t": "MESSAGE_CREATE", "s": 2, "d": payload})
        )
        return payload

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"op": 10, "d": {"heartbeat_interval": 41250}})
        async for frame in ws:
            if frame.type != WSMsgType.TEXT:
                break
            payload = json.loads(frame.data)
            if payload["op"] == 1:
                await ws.send_json({"op": 11})
            elif payload["op"] == 2:
                await self._identify(ws, payload["d"])
        self.closes.append(ws.close_code)
        return ws

    async def _identify(self, ws: web.WebSocketResponse, data: Json) -> None:
        shard_id, count = data["shard"]
        assert count == self.shard_count, f"shard {shard_id} identified with count {count}"
        self.identifies.append(data)
        self.connections[shard_id] = ws
        mine = [g for g in self.channels if shard_of(g, count) == shard_id]
        hello = {**ready(self.gateway_url), "shard": [shard_id, count]}
        hello["guilds"] = [{"id": g, "unavailable": True} for g in mine]
        await ws.send_json({"op": 0, "t": "READY", "s": 1, "d": hello})
        for guild_id in mine:
            created = guild_payload(guild_id, self.channels[guild_id])
            await ws.send_json({"op": 0, "t": "GUILD_CREATE", "s": 2, "d": created})
        self.ready.set()
        async with self._changed:
            self._changed.notify_all()
