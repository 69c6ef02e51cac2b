"""`/deepguard`: a server's moderation settings, its `stats` and `forget`, for its admins.

Default permissions hide the group from members without Manage Server, but a server's admins
can change those, so every call checks the member's permissions again. Answers are ephemeral,
in the language of whoever asked (`interaction.locale`). Each `settings` subcommand changes the
policy with a pure edit (below), applied by the store in one transaction, so admins changing
settings at once all keep their change. `settings language` sets the language of the server's
channel replies and mod-log posts; unset, they follow the server's own Discord language.

Command and option names are marked for the catalogs (`bots.discord.translator` localises them).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import discord
from discord import app_commands

from bots.i18n import LANGUAGES, N_, Catalogs, Words, slash_name
from bots.moderation_replies import (
    ADMINS_ONLY,
    FORGOTTEN,
    MODE_NAMES,
    SERVERS_ONLY,
    SETTINGS_SAVED,
    crossing,
    exemptions_text,
    language_choices,
    language_name,
    settings_text,
    stats_text,
)
from bots.outage import Outage
from core.moderation.policy import with_mode, with_modlog, with_threshold
from core.moderation.types import Action, ChatKey, ChatPolicy, Mode, ModerationStore

Change = Callable[[ChatPolicy], ChatPolicy]
Edit = Literal["add", "remove"]
Exemption = Literal["exempt_channels", "exempt_roles", "exempt_users"]
# Why a changed policy is not saved, if it isn't, in the asker's words.
Refusal = Callable[[Words, ChatPolicy], str | None]
Admin = Callable[[discord.Interaction], Awaitable[ChatKey | None]]

# The modes are named as on the settings panels (bots.moderation_replies).
MODES = [app_commands.Choice(name=MODE_NAMES[mode], value=mode.value) for mode in Mode]
EDITS = [
    # TRANSLATORS: a choice of a Discord option, at most 100 characters.
    app_commands.Choice(name=N_("add"), value="add"),
    # TRANSLATORS: a choice of a Discord option, at most 100 characters.
    app_commands.Choice(name=N_("remove"), value="remove"),
]
SERVER_DEFAULT = "server"  # the language choice that follows the server's Discord language
# TRANSLATORS: a choice of /deepguard settings language, at most 100 characters.
SERVER_DEFAULT_CHOICE = N_("Server default (the server's language in Discord)")
LANGUAGE_CHOICES = [
    app_commands.Choice(name=SERVER_DEFAULT_CHOICE, value=SERVER_DEFAULT),
    *(app_commands.Choice(name=name, value=code) for code, name in LANGUAGES.items()),
]
# TRANSLATORS: a line of the settings panel when the server chose no language; {language} is a
# language's own name ("Deutsch").
LANGUAGE_DEFAULT_LINE = N_("• language: {language} (the server's language in Discord)")


class ModCommands:
    """Builds the `/deepguard` command group on a store."""

    def __init__(self, store: ModerationStore, catalogs: Catalogs, outage: Outage) -> None:
        self._store = store
        self._catalogs = catalogs
        self._outage = outage  # the pipeline's: a removal during an outage is deleted later

    def install(self, tree: app_commands.CommandTree[discord.Client]) -> None:
        root = app_commands.Group(
            name=slash_name("deepguard"),
            description=N_("DeepGuard moderation for this server"),
            guild_only=True,
            default_permissions=discord.Permissions(manage_guild=True),
        )
        settings = app_commands.Group(
            name=slash_name("settings"),
            description=N_("Show or change DeepGuard's settings"),
            parent=root,
        )
        SettingsCommands(self._store, self._catalogs, self.admin).install(settings)

        @root.command(
            name=slash_name("stats"),
            description=N_("Images scanned and flagged, last 7 and 30 days"),
        )
        async def stats(interaction: discord.Interaction) -> None:
            if (chat := await self.admin(interaction)) is not None:
                now = datetime.now(UTC)
                week = await self._store.stats(chat, now - timedelta(days=7))
                month = await self._store.stats(chat, now - timedelta(days=30))
                await answer(interaction, stats_text(self._words(interaction), week, month))

        @root.command(
            name=slash_name("forget"),
            description=N_("Delete everything DeepGuard stored about this server"),
        )
        async def forget(interaction: discord.Interaction) -> None:
            if (chat := await self.admin(interaction)) is not None:
                await self._store.forget(chat)
                await answer(interaction, self._words(interaction).gettext(FORGOTTEN))

        tree.add_command(root)

    async def forget_guild(self, guild_id: int) -> None:
        """The bot left or was removed: nothing about the server is kept (during a database
        outage, deleted once the database is back)."""
        await self._outage.forget(ChatKey("discord", str(guild_id)))

    async def admin(self, interaction: discord.Interaction) -> ChatKey | None:
        """The server's key if the member may manage it; otherwise answer why not."""
        words = self._words(interaction)
        if interaction.guild_id is None:
            await answer(interaction, words.gettext(SERVERS_ONLY))
            return None
        permissions = interaction.permissions
        if not (permissions.administrator or permissions.manage_guild):
            await answer(interaction, words.gettext(ADMINS_ONLY))
            return None
        return ChatKey("discord", str(interaction.guild_id))

    def _words(self, interaction: discord.Interaction) -> Words:
        return self._catalogs.words(str(interaction.locale))


class SettingsCommands:
    """The `settings` subcommands; each applies one change to the policy."""

    def __init__(self, store: ModerationStore, catalogs: Catalogs, admin: Admin) -> None:
        self._store = store
        self._catalogs = catalogs
        self._admin = admin

    def install(self, group: app_commands.Group) -> None:
        self._mode_commands(group)
        self._band_commands(group)
        self._action_commands(group)
        self._exempt_commands(group)
        self._language_command(group)

    def _mode_commands(self, group: app_commands.Group) -> None:
        @group.command(name=slash_name("show"), description=N_("Show the settings"))
        async def show_(interaction: discord.Interaction) -> None:
            await self._change(interaction, lambda policy: policy, saved=False)

        @group.command(name=slash_name("mode"), description=N_("reply-all, flag-only or off"))
        @app_commands.rename(mode=slash_name("mode"))
        @app_commands.choices(mode=MODES)
        async def mode(interaction: discord.Interaction, mode: app_commands.Choice[str]) -> None:
            await self._change(interaction, lambda p: with_mode(p, Mode(mode.value)))

        @group.command(
            name=slash_name("declared"),
            # Discord refuses a description over 100 characters (and with it the whole sync).
            description=N_(
                "Count images whose own credentials or metadata declare AI as AI-made "
                "(off: the model decides)"
            ),
        )
        @app_commands.rename(on=slash_name("on"))
        async def declared(interaction: discord.Interaction, on: bool) -> None:
            await self._change(interaction, lambda p: replace(p, declared_ai_is_fake=on))

    def _band_commands(self, group: app_commands.Group) -> None:

        @group.command(
            name=slash_name("threshold"),
            description=N_("Flag images at or above this % probability of AI"),
        )
        @app_commands.rename(percent=slash_name("percent"))
        async def threshold(
            interaction: discord.Interaction, percent: app_commands.Range[int, 0, 100]
        ) -> None:
            await self._change(interaction, lambda p: with_threshold(p, percent / 100))

        @group.command(
            name=slash_name("uncertain"),
            description=N_('Below this % probability of AI the reply says "likely real"'),
        )
        @app_commands.rename(percent=slash_name("percent"))
        async def uncertain(
            interaction: discord.Interaction, percent: app_commands.Range[int, 0, 100]
        ) -> None:
            await self._change(
                interaction,
                lambda p: replace(p, uncertain_from=percent / 100),
                refuse=crossing,
            )

    def _action_commands(self, group: app_commands.Group) -> None:

        @group.command(
            name=slash_name("actions"), description=N_("What happens to a flagged image")
        )
        @app_commands.rename(
            react=slash_name("react"),
            warn=slash_name("warn"),
            modlog=slash_name("modlog"),
            delete=slash_name("delete"),
            time_out=slash_name("timeout"),
            timeout_minutes=slash_name("timeout_minutes"),
        )
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

        @group.command(
            name=slash_name("modlog"),
            description=N_("Where flags are posted (leave empty to unset)"),
        )
        @app_commands.rename(channel=slash_name("channel"))
        async def modlog(
            interaction: discord.Interaction, channel: app_commands.AppCommandChannel | None = None
        ) -> None:
            await self._change(
                interaction, lambda p: with_modlog(p, str(channel.id) if channel else None)
            )

        @group.command(
            name=slash_name("new-members"),
            description=N_("Only scan members who joined less than N days ago (0: all)"),
        )
        @app_commands.rename(days=slash_name("days"))
        async def new_members(
            interaction: discord.Interaction, days: app_commands.Range[int, 0, 3650]
        ) -> None:
            await self._change(interaction, lambda p: replace(p, new_members_days=days or None))

    def _exempt_commands(self, group: app_commands.Group) -> None:
        @group.command(
            name=slash_name("exempt-channel"), description=N_("Never flag images in a channel")
        )
        @app_commands.rename(edit=slash_name("edit"), channel=slash_name("channel"))
        @app_commands.choices(edit=EDITS)
        async def exempt_channel(
            interaction: discord.Interaction,
            edit: app_commands.Choice[str],
            channel: app_commands.AppCommandChannel,
        ) -> None:
            change = exempting("exempt_channels", _edit(edit), str(channel.id))
            await self._change(interaction, change)

        @group.command(
            name=slash_name("exempt-role"),
            description=N_("Never flag images of members with a role"),
        )
        @app_commands.rename(edit=slash_name("edit"), role=slash_name("role"))
        @app_commands.choices(edit=EDITS)
        async def exempt_role(
            interaction: discord.Interaction, edit: app_commands.Choice[str], role: discord.Role
        ) -> None:
            await self._change(interaction, exempting("exempt_roles", _edit(edit), str(role.id)))

        @group.command(
            name=slash_name("exempt-user"), description=N_("Never flag images of one member")
        )
        @app_commands.rename(edit=slash_name("edit"), user=slash_name("user"))
        @app_commands.choices(edit=EDITS)
        async def exempt_user(
            interaction: discord.Interaction, edit: app_commands.Choice[str], user: discord.User
        ) -> None:
            await self._change(interaction, exempting("exempt_users", _edit(edit), str(user.id)))

    def _language_command(self, group: app_commands.Group) -> None:
        @group.command(
            name=slash_name("language"),
            description=N_("The language of the bot's replies and mod-log posts in this server"),
        )
        @app_commands.rename(code=slash_name("language"))
        @app_commands.describe(code=N_("One of the bot's languages, or the server's own"))
        @app_commands.choices(code=LANGUAGE_CHOICES)
        async def language(interaction: discord.Interaction, code: str) -> None:
            # Discord offers only the choices; a forged or outdated value is refused here.
            chosen = None if code == SERVER_DEFAULT else self._catalogs.resolve(code)

            def unknown(words: Words, policy: ChatPolicy) -> str | None:
                if code == SERVER_DEFAULT or chosen == code:
                    return None
                return language_choices(words, typed=code)

            await self._change(interaction, lambda p: replace(p, language=chosen), refuse=unknown)

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
        words, server = self._words(interaction), self._server_language(interaction)
        if not saved:
            saved_policy = await self._store.policy(chat, private=False)
            await answer(interaction, show(words, saved_policy, server))
            return
        refusals: list[str] = []

        def checked(policy: ChatPolicy) -> ChatPolicy | None:
            changed = change(policy)
            if refuse is not None and (refusal := refuse(words, changed)):
                refusals.append(refusal)
                return None
            return changed

        policy = await self._store.change_policy(chat, checked)
        if policy is None:
            await answer(interaction, refusals[0])
            return
        await answer(
            interaction, f"{words.gettext(SETTINGS_SAVED)}\n{show(words, policy, server)}"
        )

    def _words(self, interaction: discord.Interaction) -> Words:
        """The asker's language."""
        return self._catalogs.words(str(interaction.locale))

    def _server_language(self, interaction: discord.Interaction) -> str:
        """The catalog a server that chose no language is written in: its Discord language's."""
        locale = str(interaction.guild_locale) if interaction.guild_locale else None
        return self._catalogs.words(locale).code


def show(words: Words, policy: ChatPolicy, server_language: str = "en") -> str:
    """The settings panel in `words`; `server_language` is the catalog code used when the
    server chose none."""
    modlog = f"<#{policy.modlog}>" if policy.modlog else None
    channels = [f"<#{c}>" for c in sorted(policy.exempt_channels)]
    roles = [f"<@&{r}>" for r in sorted(policy.exempt_roles)]
    extra = exemptions_text(words, channels, roles, policy.new_members_days)
    lines = [settings_text(words, policy, modlog), extra]
    if policy.language is None:  # a chosen one is on the shared panel
        default = language_name(server_language)
        lines.append(words.gettext(LANGUAGE_DEFAULT_LINE, language=default))
    return "\n".join(lines)


def _edit(choice: app_commands.Choice[str]) -> Edit:
    return "add" if choice.value == "add" else "remove"


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
