"""The Discord bot: replies to posted images, answers `/check` and the message menu.

`run()` is what `deepguard run` starts. The Message Content intent is privileged: without it
Discord hides attachments and embeds of server messages from the bot. If the application has
not been granted it, the gateway closes with 4014; the bot then says so and reconnects without
it, so `/check` and the message menu keep working.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord
from discord import app_commands

from bots.dedupe import SeenMessages
from bots.discord_answers import Checker
from bots.discord_commands import Commands
from bots.discord_guards import InFlight, MutedChannels
from bots.discord_inputs import MessageImages
from bots.discord_mod import Moderator
from bots.discord_mod_actions import FlagActions
from bots.discord_mod_commands import ModCommands
from bots.discord_mod_review import Reviews
from bots.links import LinkFetcher
from bots.throttle import Throttle
from config import Settings
from core import Judge
from core.moderation import ModerationStore

log = logging.getLogger(__name__)

NO_MESSAGE_CONTENT = (
    "Discord refused the Message Content intent (enable it under Bot > Privileged Gateway "
    "Intents in the developer portal). Reconnecting without it: images posted in servers "
    "won't be seen, but /check and the 'Check for AI image' message menu still work."
)
_ANSWERED_TYPES = frozenset({discord.MessageType.default, discord.MessageType.reply})


class DeepGuardClient(discord.AutoShardedClient):
    """A discord.py client whose collaborators are all handed in.

    It runs the shards `settings.discord` names, or as many as Discord recommends, over one
    connection each; several processes can split a large bot's shards between them.
    """

    def __init__(
        self,
        settings: Settings,
        detector: Judge,
        throttle: Throttle,
        seen: SeenMessages,
        *,
        store: ModerationStore,
        message_content: bool = True,
    ) -> None:
        intents = discord.Intents.default()
        intents.message_content = message_content
        super().__init__(
            intents=intents,
            allowed_mentions=discord.AllowedMentions.none(),
            max_ratelimit_timeout=settings.discord.max_ratelimit_timeout_s,
            chunk_guilds_at_startup=False,
            max_messages=None,  # edits arrive as raw events; no message cache is needed
            **_shards(settings),
        )
        self.settings = settings
        self._seen = seen
        self.store = store
        self._links = LinkFetcher(settings.discord, settings.images.max_bytes)
        self._images = MessageImages(settings.discord, self._links, settings.images.max_bytes)
        self._checker = Checker(settings, detector, throttle)
        self._in_flight = InFlight()
        self._muted = MutedChannels(settings.discord.muted_channel_s)
        self.tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(self)
        self._moderator = Moderator(store, self._checker, FlagActions(self, store), self._reply)
        Commands(
            settings.discord,
            detector,
            self._checker,
            self._images,
            seen,
            self._in_flight,
            on_checked=self._moderator.requested,
        ).install(self.tree)
        self._reviews = Reviews(self, store, seen)
        self._mod_commands = ModCommands(store)
        self._mod_commands.install(self.tree)

    async def setup_hook(self) -> None:
        await self._links.open()
        guild_id = self.settings.discord.test_guild_id
        if guild_id is None:
            await self.tree.sync()
            return
        guild = discord.Object(guild_id)
        self.tree.copy_global_to(guild=guild)
        await self.tree.sync(guild=guild)

    async def close(self) -> None:
        await super().close()
        await self._links.close()

    async def finish(self) -> None:
        """Close the gateway, let the answers in flight finish, then close the HTTP session.

        Call it after the task running `connect()` was cancelled, or it would reconnect.
        """
        self._in_flight.stopping = True
        for shard in self.shards.values():
            await shard.disconnect()  # code 1000 ends the session: no RESUME will follow
        grace = self.settings.discord.stop_grace_s
        if not await self._in_flight.drain(grace):
            log.warning("stopping with answers still in flight after %.0f s", grace)
        await self.close()

    async def on_ready(self) -> None:
        intent = "on" if self.intents.message_content else "OFF (only /check and the menu work)"
        shards = sorted(self.shards)  # this process's slice when several share the bot
        log.info(
            "connected to Discord as %s on shards %s of %s; message content %s",
            self.user,
            shards,
            self.shard_count,
            intent,
        )

    async def on_message(self, message: discord.Message) -> None:
        await self._consider(message)

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        await self._consider(payload.message)  # only images not answered before are new

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        await self._reviews.on_interaction(interaction)  # flag buttons; commands go to the tree

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        await self._mod_commands.forget_guild(guild.id)
        log.info("left server %s; its moderation data is deleted", guild.id)

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        log.exception("unexpected error while handling %s", event_method)

    async def _consider(self, message: discord.Message) -> None:
        if self._in_flight.stopping or message.author.bot or message.type not in _ANSWERED_TYPES:
            return
        async with self._in_flight.track():
            sources = [
                source
                for source in self._images.sources(message)
                if await self._seen.claim(f"discord:{message.id}:{source.key}")
            ]
            await self._moderator.handle(message, sources)

    async def _reply(
        self, message: discord.Message, text: str, view: discord.ui.View | None = None
    ) -> None:
        """Reply unless the channel refused recently (it is still moderated)."""
        if self._muted.muted(message.channel.id):
            return
        reference = message.to_reference(fail_if_not_exists=False)
        try:
            await message.channel.send(
                text, reference=reference, mention_author=False, view=view or discord.utils.MISSING
            )
        except discord.Forbidden as error:
            if self._muted.mute(message.channel.id):
                log.warning(
                    "cannot reply in channel %s (%s); skipping it for %.0f s",
                    message.channel.id,
                    error.text or error.status,
                    self.settings.discord.muted_channel_s,
                )
        except discord.RateLimited as error:
            log.warning("dropped a reply: rate limited for %.0f s", error.retry_after)


def _shards(settings: Settings) -> dict[str, Any]:
    """Shard options for discord.py; none at all lets it ask Discord (GET /gateway/bot)."""
    count, ids = settings.discord.shard_count, settings.discord.shard_ids
    options: dict[str, Any] = {} if count is None else {"shard_count": count}
    if ids is not None:
        options["shard_ids"] = list(ids)
    return options


async def run(
    settings: Settings, detector: Judge, stop: asyncio.Event, *, store: ModerationStore
) -> None:
    """Serve Discord until `stop` is set; answers in flight are finished first."""
    token = settings.discord.token.get_secret_value() if settings.discord.token else ""
    throttle, seen = Throttle(settings.throttle), SeenMessages()
    message_content = True
    while True:
        client = DeepGuardClient(
            settings, detector, throttle, seen, store=store, message_content=message_content
        )
        try:
            await _serve(client, token, stop)
            return
        except discord.PrivilegedIntentsRequired:
            if not message_content:
                raise
            log.warning(NO_MESSAGE_CONTENT)
            message_content = False


async def _serve(client: DeepGuardClient, token: str, stop: asyncio.Event) -> None:
    async with client:
        await client.login(token)
        gateway = asyncio.create_task(client.connect(), name="discord-gateway")
        stopped = asyncio.create_task(stop.wait(), name="discord-stop")
        try:
            await asyncio.wait({gateway, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if gateway.done():
                return gateway.result()  # raises what ended it, e.g. PrivilegedIntentsRequired
            gateway.cancel()
            await asyncio.wait({gateway})
            await client.finish()
        finally:
            for task in (gateway, stopped):
                task.cancel()
            await asyncio.wait({gateway, stopped})
