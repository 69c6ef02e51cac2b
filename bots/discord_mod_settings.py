"""`/deepguard settings ...`: show and change a server's moderation policy (ephemeral answers)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Literal

import discord
from discord import app_commands

from bots.mod_replies import SETTINGS_SAVED, bands_refused, exemptions_text, settings_text
from core.moderation import (
    Action,
    ChatKey,
    ChatPolicy,
    Mode,
    ModerationStore,
    with_mode,
    with_modlog,
    with_threshold,
)

Change = Callable[[ChatPolicy], ChatPolicy]
Refusal = Callable[[ChatPolicy], str | None]  # why a changed policy is not saved, if it isn't
Admin = Callable[[discord.Interaction], Awaitable[ChatKey | None]]
Edit = Literal["add", "remove"]
MODES = [app_commands.Choice(name=mode.value, value=mode.value) for mode in Mode]


def show(policy: ChatPolicy) -> str:
    modlog = f"<#{policy.modlog}>" if policy.modlog else None
    channels = [f"<#{c}>" for c in sorted(policy.exempt_channels)]
    roles = [f"<@&{r}>" for r in sorted(policy.exempt_roles)]
    extra = exemptions_text(channels, roles, policy.new_members_days)
    return f"{settings_text(policy, modlog)}\n{extra}"


def edited(ids: frozenset[str], edit: Edit, item: str) -> frozenset[str]:
    return ids | {item} if edit == "add" else ids - {item}


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


def crossing(policy: ChatPolicy) -> str | None:
    """The uncertain band may not start above the flag threshold."""
    if policy.uncertain_from > policy.threshold:
        return bands_refused(policy.threshold, policy.uncertain_from)
    return None


class SettingsCommands:
    """The `settings` subcommands; each reads the policy, changes it and saves it."""

    def __init__(self, store: ModerationStore, admin: Admin) -> None:
        self._store = store
        self._admin = admin

    def install(self, group: app_commands.Group) -> None:
        self._policy_commands(group)
        self._exempt_commands(group)

    def _policy_commands(self, group: app_commands.Group) -> None:
        @group.command(name="show", description="Show the settings")
        async def show_(interaction: discord.Interaction) -> None:
            await self._change(interaction, lambda policy: policy, saved=False)

        @group.command(name="mode", description="reply-all, flag-only or off")
        @app_commands.choices(mode=MODES)
        async def mode(interaction: discord.Interaction, mode: app_commands.Choice[str]) -> None:
            await self._change(interaction, lambda p: with_mode(p, Mode(mode.value)))

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
            await self._change(
                interaction,
                lambda p: replace(
                    p, exempt_channels=edited(p.exempt_channels, edit, str(channel.id))
                ),
            )

        @group.command(name="exempt-role", description="Never flag images of members with a role")
        async def exempt_role(
            interaction: discord.Interaction, edit: Edit, role: discord.Role
        ) -> None:
            await self._change(
                interaction,
                lambda p: replace(p, exempt_roles=edited(p.exempt_roles, edit, str(role.id))),
            )

        @group.command(name="exempt-user", description="Never flag images of one member")
        async def exempt_user(
            interaction: discord.Interaction, edit: Edit, user: discord.User
        ) -> None:
            await self._change(
                interaction,
                lambda p: replace(p, exempt_users=edited(p.exempt_users, edit, str(user.id))),
            )

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
