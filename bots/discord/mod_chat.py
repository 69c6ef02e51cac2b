"""Who and where, as moderation sees a Discord message: chat keys and the policy's view."""

from __future__ import annotations

from datetime import UTC, datetime

import discord

from core.moderation.policy import decide
from core.moderation.types import ChatKey, ChatPolicy, UploadContext


def chat_of(message: discord.Message) -> tuple[ChatKey, bool]:
    """The store's key for where a message was posted, and whether that is a private chat."""
    if message.guild is None:
        return ChatKey("discord", f"dm:{message.channel.id}"), True
    return ChatKey("discord", str(message.guild.id)), False


def upload_context(
    message: discord.Message,
    *,
    private: bool,
    author: discord.Member | discord.User | None = None,
    requested: bool = False,
) -> UploadContext:
    """Who posted where: a thread counts as its parent channel for exemptions."""
    channel = getattr(message.channel, "parent_id", None) or message.channel.id
    author = author or message.author
    roles: frozenset[str] = frozenset()
    member_days = None
    if isinstance(author, discord.Member):
        roles = frozenset(str(role.id) for role in author.roles)
        if author.joined_at is not None:
            member_days = (datetime.now(UTC) - author.joined_at).total_seconds() / 86400
    return UploadContext(
        private=private,
        channel=str(channel),
        user=str(author.id),
        roles=roles,
        member_days=member_days,
        requested=requested,
    )


def may_matter(policy: ChatPolicy, context: UploadContext) -> bool:
    """False when even a certain fake would be neither answered nor flagged: skip the model."""
    decision = decide(policy, 1.0, context)
    return decision.answer or decision.flag


async def as_member(
    guild: discord.Guild, author: discord.Member | discord.User
) -> discord.Member | discord.User:
    """The author as a member, for their roles and join date (a menu's message has neither)."""
    if isinstance(author, discord.Member):
        return author
    try:
        return guild.get_member(author.id) or await guild.fetch_member(author.id)
    except discord.HTTPException:
        return author  # left the server: no roles to exempt them by
