"""What moderation needs from the fake Discord on top of `FakeDiscord`.

Member edits (time-outs), DM channels (telling the owner), message edits, and the payloads of
button clicks (component interactions, type 3) and of `/deepguard` subcommands with the
member's permissions, as Discord sends them.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from tests.discord.discord_payloads import (
    BOT,
    CHANNEL_ID,
    GUILD_ID,
    HUMAN,
    Json,
    channel,
    interaction,
    member,
    message,
    snowflake,
)
from tests.discord.fake_discord import _BODY, API, FakeDiscord, _json

MODLOG_ID, DM_ID, ROLE_ID = snowflake(), snowflake(), snowflake()
OTHER_ID = snowflake()
OTHER_HUMAN: Json = {"id": OTHER_ID, "username": "bob", "discriminator": "0", "avatar": None}
NO_PERMISSIONS = "0"
MANAGE_MESSAGES = str(1 << 13)
MANAGE_GUILD = str(1 << 5)


class ModFakeDiscord(FakeDiscord):
    """`FakeDiscord` that also serves the routes moderation uses."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.member_roles: dict[str, list[str]] = {}  # what GET .../members/{id} says

    async def _api(self, request: web.Request) -> web.StreamResponse:
        tail = request.path.removeprefix(API)
        body: Any = request[_BODY]
        if request.method == "PATCH" and re.fullmatch(r"/guilds/\d+/members/\d+", tail):
            return _json({**member(HUMAN), **(body or {})})  # a time-out answers the member
        if request.method == "GET" and (match := re.fullmatch(r"/guilds/\d+/members/(\d+)", tail)):
            user = OTHER_HUMAN if match[1] == OTHER_ID else HUMAN
            return _json({**member(user), "roles": self.member_roles.get(match[1], [])})
        if request.method == "POST" and tail == "/users/@me/channels":
            return _json({"id": DM_ID, "type": 1, "recipients": [HUMAN]})
        if request.method == "PATCH" and (
            match := re.fullmatch(r"/channels/(\d+)/messages/(\d+)", tail)
        ):
            return _json(
                {**message(channel_id=match[1], author=BOT, message_id=match[2]), **(body or {})}
            )
        return await super()._api(request)

    def bodies(self, path: str, method: str = "POST") -> list[Json]:
        """Bodies of accepted requests whose path under /api/v10 matches `path`."""
        return [r.body for r in self.sent(path, method) if 200 <= r.status < 300]


# Payload shapes from the API docs, one line each as in fake_discord.py.
# fmt: off
def with_role(payload: Json, role_id: str) -> Json:
    """A message payload whose author's member has a role."""
    return {**payload, "member": {**payload["member"], "roles": [role_id]}}


def role_create(role_id: str = ROLE_ID) -> Json:
    """A GUILD_ROLE_CREATE payload, so the client knows the role."""
    role = {"id": role_id, "name": "artists", "permissions": "0", "position": 1, "color": 0, "hoist": False, "managed": False, "mentionable": False, "flags": 0}
    return {"guild_id": GUILD_ID, "role": role}


def as_member(payload: Json, user: Json, permissions: str) -> Json:
    """An interaction from `user` with the channel permissions `permissions`."""
    return {**payload, "member": {**member(user), "permissions": permissions}}


def deepguard(*path: str, options: list[Json] | None = None, resolved: Json | None = None, user: Json = HUMAN, permissions: str = MANAGE_GUILD) -> Json:
    """`/deepguard <path...> <options>`, e.g. `deepguard("settings", "threshold", options=[...])`."""
    leaf: list[Json] = options or []
    for depth, name in reversed(list(enumerate(path))):
        kind = 1 if depth == len(path) - 1 else 2  # subcommand, then subcommand group
        leaf = [{"name": name, "type": kind, "options": leaf}]
    data: Json = {"id": snowflake(), "name": "deepguard", "type": 1, "options": leaf}
    if resolved:
        data["resolved"] = resolved
    return as_member(interaction(data), user, permissions)


def option(name: str, value: Any, kind: int) -> Json:
    return {"name": name, "type": kind, "value": value}


def channel_option(name: str, channel_id: str) -> tuple[Json, Json]:
    """A channel option and its `resolved` part."""
    data = {**channel(channel_id), "permissions": "0"}
    return option(name, channel_id, 7), {"channels": {channel_id: data}}


def click(custom_id: str, on: Json, *, user: Json = HUMAN, permissions: str = MANAGE_MESSAGES) -> Json:
    """A button click (component interaction) on the message `on`."""
    payload = interaction({})
    payload.update(type=3, message=on, channel_id=on["channel_id"], channel=channel(on["channel_id"]), data={"custom_id": custom_id, "component_type": 2})
    return as_member(payload, user, permissions)


def posted(body: Json, channel_id: str = CHANNEL_ID) -> Json:
    """The message the bot posted with `body`, as Discord would send it back in a click."""
    return {**message(channel_id=channel_id, author=BOT), "content": body.get("content", ""), "components": body.get("components", [])}


def custom_ids(body: Json) -> list[str]:
    return [button["custom_id"] for row in body.get("components", []) for button in row["components"]]
# fmt: on
