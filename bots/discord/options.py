"""The discord.py client options DeepGuard's settings choose."""

from __future__ import annotations

from typing import Any

import discord

from config import Settings


def client_options(settings: Settings, *, message_content: bool) -> dict[str, Any]:
    """Keyword arguments for `discord.AutoShardedClient`: intents, mentions, limits, shards."""
    intents = discord.Intents.default()
    intents.message_content = message_content
    return {
        "intents": intents,
        "allowed_mentions": discord.AllowedMentions.none(),
        "max_ratelimit_timeout": settings.discord.max_ratelimit_timeout_s,
        "chunk_guilds_at_startup": False,
        "max_messages": None,  # edits arrive as raw events; no message cache is needed
        **_shards(settings),
    }


def _shards(settings: Settings) -> dict[str, Any]:
    """Shard options for discord.py; none at all lets it ask Discord (GET /gateway/bot)."""
    count, ids = settings.discord.shard_count, settings.discord.shard_ids
    options: dict[str, Any] = {} if count is None else {"shard_count": count}
    if ids is not None:
        options["shard_ids"] = list(ids)
    return options
