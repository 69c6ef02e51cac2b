"""The Discord bot: replies to posted images, answers `/check` and the message menu.

`run()` is what `deepguard run` starts. The Message Content intent is privileged: without it
Discord hides attachments and embeds of server messages from the bot. If the application has
not been granted it, the gateway closes with 4014; the bot then says so and reconnects without
it, so `/check` and the message menu keep working.
"""

from __future__ import annotations

import asyncio
import logging

import discord

from bots.delivery import SeenMessages
from bots.discord.client import DeepGuardClient
from bots.throttle import Throttle
from config import Settings
from core.detector import Judge
from core.moderation.types import ModerationStore

log = logging.getLogger(__name__)

NO_MESSAGE_CONTENT = (
    "Discord refused the Message Content intent (enable it under Bot > Privileged Gateway "
    "Intents in the developer portal). Reconnecting without it: images posted in servers "
    "won't be seen, but /check and the 'Check for AI image' message menu still work."
)


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
