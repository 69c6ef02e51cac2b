"""Discord payloads for the fake: the ids, users and guild it serves, events and interactions
a test dispatches, and the REST answers (synced commands, sent messages, callbacks).

Shapes follow the API docs; the one-line builders are kept on one line on purpose.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from typing import Any

Json = dict[str, Any]
PERMISSIONS = "1071698660929"
_EPOCH_MS = 1420070400000
_counter = itertools.count(1)


def snowflake() -> str:
    """A realistic, unique, current snowflake id."""
    return str(((int(time.time() * 1000) - _EPOCH_MS) << 22) + next(_counter))


APP_ID, GUILD_ID, CHANNEL_ID, OTHER_CHANNEL_ID = (snowflake() for _ in range(4))
BOT = {"id": APP_ID, "username": "deepguard", "discriminator": "0", "avatar": None, "bot": True}
HUMAN = {"id": snowflake(), "username": "alice", "discriminator": "0", "avatar": None}
NOW = "2024-01-01T00:00:00+00:00"


# Payload shapes from the API docs; one line each reads better than the formatter's 20.
# fmt: off
def member(user: Json) -> Json:
    return {"user": user, "roles": [], "joined_at": NOW, "deaf": False, "mute": False, "flags": 0}


def channel(channel_id: str) -> Json:
    return {"id": channel_id, "type": 0, "name": f"c{channel_id[-4:]}", "position": 0, "guild_id": GUILD_ID, "permission_overwrites": []}


def message(*, attachments: Sequence[Json] = (), embeds: Sequence[Json] = (), stickers: Sequence[Json] = (), channel_id: str = CHANNEL_ID, author: Json = HUMAN, message_id: str | None = None) -> Json:
    """A MESSAGE_CREATE payload (also the body of MESSAGE_UPDATE and resolved messages)."""
    return {"id": message_id or snowflake(), "type": 0, "content": "look", "channel_id": channel_id, "guild_id": GUILD_ID,
            "author": author, "member": member(author), "attachments": list(attachments), "embeds": list(embeds),
            "sticker_items": list(stickers), "mentions": [], "mention_roles": [], "mention_everyone": False,
            "pinned": False, "tts": False, "timestamp": NOW, "edited_timestamp": None, "flags": 0, "components": []}


def sticker_item(format_type: int) -> Json:
    """A message's sticker item: format_type 1 PNG, 2 APNG, 3 Lottie, 4 GIF."""
    return {"id": snowflake(), "name": "wave", "format_type": format_type}


def gifv(page: str, video_proxy: str, still_proxy: str) -> Json:
    """A Tenor link's embed: the provider's MP4 and still, each with Discord's proxied copy."""
    clip, still = "https://media.tenor.com/AAAPo/cat.mp4", "https://media.tenor.com/AAAAe/cat.png"
    return {"type": "gifv", "url": page, "provider": {"name": "Tenor", "url": "https://tenor.co"},
            "thumbnail": {"url": still, "proxy_url": still_proxy, "width": 498, "height": 280},
            "video": {"url": clip, "proxy_url": video_proxy, "width": 498, "height": 280}}


def interaction(data: Json) -> Json:
    """An INTERACTION_CREATE payload for an application command with `data`."""
    return {"id": snowflake(), "application_id": APP_ID, "type": 2, "token": f"itoken-{snowflake()}", "version": 1,
            "attachment_size_limit": 26214400, "guild_id": GUILD_ID, "channel_id": CHANNEL_ID, "channel": channel(CHANNEL_ID),
            "member": {**member(HUMAN), "permissions": PERMISSIONS}, "app_permissions": PERMISSIONS, "locale": "en-US",
            "guild_locale": "en-US", "entitlements": [], "authorizing_integration_owners": {"0": GUILD_ID}, "context": 0, "data": data}


def slash_check(attachment: Json) -> Json:
    return interaction({"id": snowflake(), "name": "check", "type": 1, "options": [{"name": "image", "type": 11, "value": attachment["id"]}],
                        "resolved": {"attachments": {attachment["id"]: attachment}}})


def message_menu(target: Json) -> Json:
    return interaction({"id": snowflake(), "name": "Check for AI image", "type": 3, "target_id": target["id"],
                        "resolved": {"messages": {target["id"]: target}}})


def guild(channel_ids: Sequence[str], preferred_locale: str = "en-US") -> Json:
    everyone = {"id": GUILD_ID, "name": "@everyone", "permissions": PERMISSIONS, "position": 0, "color": 0, "hoist": False, "managed": False, "mentionable": False, "flags": 0}
    return {"id": GUILD_ID, "name": "Test Guild", "owner_id": HUMAN["id"], "member_count": 2, "unavailable": False, "preferred_locale": preferred_locale,
            "roles": [everyone], "channels": [channel(c) for c in channel_ids], "members": [member(BOT), member(HUMAN)],
            "emojis": [], "stickers": [], "features": [], "threads": [], "voice_states": [], "presences": []}


def ready(gateway_url: str) -> Json:
    return {"v": 10, "user": BOT, "guilds": [{"id": GUILD_ID, "unavailable": True}], "session_id": "fake-session",
            "resume_gateway_url": gateway_url, "application": {"id": APP_ID, "flags": 0}}


APPLICATION = {"id": APP_ID, "name": "DeepGuard", "description": "", "icon": None, "bot_public": True,
               "bot_require_code_grant": False, "owner": BOT, "verify_key": "0" * 64, "flags": 0}
# fmt: on


def registered(command: Json) -> Json:
    """Echo a synced command back as Discord does, with its id (menus have no description)."""
    return {
        "description": "",
        **command,
        "id": snowflake(),
        "application_id": APP_ID,
        "version": "1",
    }


def bot_message(channel_id: str, body: Json) -> Json:
    sent = message(channel_id=channel_id, author=BOT)
    return {**sent, "content": body.get("content", ""), "flags": body.get("flags", 0)}


def callback_answer(interaction_id: str, body: Json) -> Json:
    kind, data = body["type"], body.get("data") or {}
    state = {
        "id": interaction_id,
        "type": 2,
        "response_message_id": snowflake(),
        "response_message_loading": kind == 5,
        "response_message_ephemeral": bool(data.get("flags", 0) & 64),
    }
    if kind == 5:  # deferred: "thinking..." until the follow-up
        return {"interaction": state, "resource": {"type": kind}}
    return {
        "interaction": state,
        "resource": {"type": kind, "message": bot_message(CHANNEL_ID, data)},
    }
