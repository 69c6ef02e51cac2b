"""`/deepguard`: a server's moderation settings, its `stats` and `forget`, for its admins.

Default permissions hide the group from members without Manage Server, but a server's admins
can change those, so every call checks the member's permissions again. Answers are ephemeral.
Each `settings` subcommand changes the policy with a pure edit (below), applied by the store in
one transaction, so admins changing settings at once all keep their change.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import discord
from discord import app_commands

from bots.i18n import english
from bots.moderation_replies import (
    ADMINS_ONLY,
    FORGOTTEN,
    SERVERS_ONLY,
    SETTINGS_SAVED,
    crossing,
    exemptions_text,
    settings_text,
    stats_text,
)
from core.moderation.policy import with_mode, with_modlog, with_threshold
from core.moderation.types import Action, ChatKey, ChatPolicy, Mode, ModerationStore

Change = Callable[[ChatPolicy], ChatPolicy]
Edit = Literal["add", "remove"]
Exemption = Literal["exempt_channels", "exempt_roles", "exempt_users"]
Refusal = Callable[[ChatPolicy], str | None]  # why a changed policy is not saved, if it isn't
Admin = Callable[[discord.Interaction], Awaitable[ChatKey | None]]
ENGLISH = english()  # until the Discord bot answers in its users' languages
MODES = [app_commands.Choice(name=mode.value, value=mode.value) for mode in Mode]


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
                await answer(interaction, stats_text(ENGLISH, week, month))

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


class SettingsCommands:
    """The `settings` subcommands; each applies one change to the policy."""

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

        @group.command(
            name="declared",
            description="Count an image whose own Content Credentials or metadata declare AI "
            "as AI-generated (off: the model alone decides)",
        )
        async def declared(interaction: discord.Interaction, on: bool) -> None:
            await self._change(interaction, lambda p: replace(p, declared_ai_is_fake=on))

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
                interaction,
                lambda p: replace(p, uncertain_from=percent / 100),
                refuse=lambda policy: crossing(ENGLISH, policy),
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
        """Apply `change` atomically, so two admins' changes at once are both kept."""
        chat = await self._admin(interaction)
        if chat is None:
            return
        if not saved:
            await answer(interaction, show(await self._store.policy(chat, private=False)))
            return
        refusals: list[str] = []

        def checked(policy: ChatPolicy) -> ChatPolicy | None:
            changed = change(policy)
            if refuse is not None and (refusal := refuse(changed)):
                refusals.append(refusal)
                return None
            return changed

        policy = await self._store.change_policy(chat, checked)
        if policy is None:
            await answer(interaction, refusals[0])
            return
        await answer(interaction, f"{SETTINGS_SAVED}\n{show(policy)}")


def show(policy: ChatPolicy) -> str:
    modlog = f"<#{policy.modlog}>" if policy.modlog else None
    channels = [f"<#{c}>" for c in sorted(policy.exempt_channels)]
    roles = [f"<@&{r}>" for r in sorted(policy.exempt_roles)]
    extra = exemptions_text(ENGLISH, channels, roles, policy.new_members_days)
    return f"{settings_text(ENGLISH, policy, modlog)}\n{extra}"


def edited(ids: frozenset[str], edit: Edit, item: str) -> frozenset[str]:
    return ids | {item} if edit == "add" else ids - {item}


def exempting(field: Exemption, edit: Edit, item: str) -> Change:
    """The change that adds `item` to, or removes it from, one of the exemption sets."""

    def change(policy: ChatPolicy) -> ChatPolicy:
        changed: dict[str, Any] = {field: edited(getattr(policy, field), edit, item)}
        return replace(policy, **changed)

    return change


def with_actions(
    policy: ChatPolicy, wanted: dict[Action, bool | None], minutes: int | None
) -> ChatPolicy:
    """Switch the named actions on or off; switching one on again forgets its refusals."""
    actions = set(policy.actions)
    for action, on in wanted.items():
        if on is not None:
            (actions.add if on else actions.discard)(action)
    back_on = {a for a, on in wanted.items() if on}
    disabled = frozenset(pair for pair in policy.disabled if pair[1] not in back_on)
    return replace(
        policy,
        actions=frozenset(actions),
        disabled=disabled,
        timeout_minutes=minutes or policy.timeout_minutes,
    )


async def answer(interaction: discord.Interaction, text: str) -> None:
    await interaction.response.send_message(text, ephemeral=True)
