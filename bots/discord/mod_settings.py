"""`/deepguard settings ...`: show and change a server's moderation policy (ephemeral answers)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

import discord
from discord import app_commands

from bots.discord.mod_policy import Change, Edit, exempting, show, with_actions
from bots.replies import SETTINGS_SAVED, crossing
from core.moderation.policy import with_mode, with_modlog, with_threshold
from core.moderation.types import Action, ChatKey, ChatPolicy, Mode, ModerationStore

Refusal = Callable[[ChatPolicy], str | None]  # why a changed policy is not saved, if it isn't
Admin = Callable[[discord.Interaction], Awaitable[ChatKey | None]]
MODES = [app_commands.Choice(name=mode.value, value=mode.value) for mode in Mode]


class SettingsCommands:
    """The `settings` subcommands; each reads the policy, changes it and saves it."""

    def __init__(self, store: ModerationStore, admin: Admin) -> None:
        self._store = store
        self._admin = admin

    def install(self, group: app_commands.Group) -> None:
        self._mode_commands(group)
        self._band_commands(group)
        self._action_commands(group)
        self._exempt_commands(group)

    def _mode_commands(self, group: app_commands.Group) -> None:
        @group.command(name="show", description="Show the settings")
        async def show_(interaction: discord.Interaction) -> None:
            await self._change(interaction, lambda policy: policy, saved=False)

        @group.command(name="mode", description="reply-all, flag-only or off")
        @app_commands.choices(mode=MODES)
        async def mode(interaction: discord.Interaction, mode: app_commands.Choice[str]) -> None:
            await self._change(interaction, lambda p: with_mode(p, Mode(mode.value)))

    def _band_commands(self, group: app_commands.Group) -> None:

        @group.command(
            name="threshold", description="Flag images at or above this % probability of AI"
        )
        async def threshold(
            interaction: discord.Interaction, percent: app_commands.Range[int, 0, 100]
        ) -> None:
            await self._change(interaction, lambda p: with_threshold(p, percent / 100))

        @group.command(
            name="uncertain",
            description='Below this % probability of AI the reply says "likely real"',
        )
        async def uncertain(
            interaction: discord.Interaction, percent: app_commands.Range[int, 0, 100]
        ) -> None:
            await self._change(
                interaction, lambda p: replace(p, uncertain_from=percent / 100), refuse=crossing
            )

    def _action_commands(self, group: app_commands.Group) -> None:

        @group.command(name="actions", description="What happens to a flagged image")
        @app_commands.rename(time_out="timeout")
        async def actions(
            interaction: discord.Interaction,
            react: bool | None = None,
            warn: bool | None = None,
            modlog: bool | None = None,
            delete: bool | None = None,
            time_out: bool | None = None,
            timeout_minutes: app_commands.Range[int, 1, 40320] | None = None,
        ) -> None:
            wanted = {
                Action.REACT: react,
                Action.WARN: warn,
                Action.MODLOG: modlog,
                Action.DELETE: delete,
                Action.TIMEOUT: time_out,
            }
            await self._change(interaction, lambda p: with_actions(p, wanted, timeout_minutes))

        @group.command(name="modlog", description="Where flags are posted (leave empty to unset)")
        async def modlog(
            interaction: discord.Interaction, channel: app_commands.AppCommandChannel | None = None
        ) -> None:
            await self._change(
                interaction, lambda p: with_modlog(p, str(channel.id) if channel else None)
            )

        @group.command(
            name="new-members",
            description="Only scan members who joined less than N days ago (0: all)",
        )
        async def new_members(
            interaction: discord.Interaction, days: app_commands.Range[int, 0, 3650]
        ) -> None:
            await self._change(interaction, lambda p: replace(p, new_members_days=days or None))

    def _exempt_commands(self, group: app_commands.Group) -> None:
        @group.command(name="exempt-channel", description="Never flag images in a channel")
        async def exempt_channel(
            interaction: discord.Interaction, edit: Edit, channel: app_commands.AppCommandChannel
        ) -> None:
            await self._change(interaction, exempting("exempt_channels", edit, str(channel.id)))

        @group.command(name="exempt-role", description="Never flag images of members with a role")
        async def exempt_role(
            interaction: discord.Interaction, edit: Edit, role: discord.Role
        ) -> None:
            await self._change(interaction, exempting("exempt_roles", edit, str(role.id)))

        @group.command(name="exempt-user", description="Never flag images of one member")
        async def exempt_user(
            interaction: discord.Interaction, edit: Edit, user: discord.User
        ) -> None:
            await self._change(interaction, exempting("exempt_users", edit, str(user.id)))

    async def _change(
        self,
        interaction: discord.Interaction,
        change: Change,
        *,
        saved: bool = True,
        refuse: Refusal | None = None,
    ) -> None:
        chat = await self._admin(interaction)
        if chat is None:
            return
        policy = change(await self._store.policy(chat, private=False))
        if refuse is not None and (refusal := refuse(policy)):
            await interaction.response.send_message(refusal, ephemeral=True)
            return
        if saved:
            await self._store.save_policy(chat, policy)
        text = f"{SETTINGS_SAVED}\n{show(policy)}" if saved else show(policy)
        await interaction.response.send_message(text, ephemeral=True)
