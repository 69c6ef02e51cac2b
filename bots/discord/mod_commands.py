"""`/deepguard`: the `settings` subgroup, `stats` and `forget`.

Default permissions hide the group from members without Manage Server, but a server's admins
can change those, so every call checks the member's permissions again. Answers are ephemeral.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import discord
from discord import app_commands

from bots.discord.mod_settings import SettingsCommands
from bots.replies import ADMINS_ONLY, FORGOTTEN, SERVERS_ONLY, stats_text
from core.moderation.types import ChatKey, ModerationStore


class ModCommands:
    """Builds the `/deepguard` command group on a store."""

    def __init__(self, store: ModerationStore) -> None:
        self._store = store

    def install(self, tree: app_commands.CommandTree[discord.Client]) -> None:
        root = app_commands.Group(
            name="deepguard",
            description="DeepGuard moderation for this server",
            guild_only=True,
            default_permissions=discord.Permissions(manage_guild=True),
        )
        settings = app_commands.Group(
            name="settings", description="Show or change DeepGuard's settings", parent=root
        )
        SettingsCommands(self._store, self.admin).install(settings)

        @root.command(name="stats", description="Images scanned and flagged, last 7 and 30 days")
        async def stats(interaction: discord.Interaction) -> None:
            if (chat := await self.admin(interaction)) is not None:
                now = datetime.now(UTC)
                week = await self._store.stats(chat, now - timedelta(days=7))
                month = await self._store.stats(chat, now - timedelta(days=30))
                await answer(interaction, stats_text(week, month))

        @root.command(name="forget", description="Delete all DeepGuard stored about this server")
        async def forget(interaction: discord.Interaction) -> None:
            if (chat := await self.admin(interaction)) is not None:
                await self._store.forget(chat)
                await answer(interaction, FORGOTTEN)

        tree.add_command(root)

    async def forget_guild(self, guild_id: int) -> None:
        """The bot left or was removed: nothing about the server is kept."""
        await self._store.forget(ChatKey("discord", str(guild_id)))

    async def admin(self, interaction: discord.Interaction) -> ChatKey | None:
        """The server's key if the member may manage it; otherwise answer why not."""
        if interaction.guild_id is None:
            await answer(interaction, SERVERS_ONLY)
            return None
        permissions = interaction.permissions
        if not (permissions.administrator or permissions.manage_guild):
            await answer(interaction, ADMINS_ONLY)
            return None
        return ChatKey("discord", str(interaction.guild_id))


async def answer(interaction: discord.Interaction, text: str) -> None:
    await interaction.response.send_message(text, ephemeral=True)
