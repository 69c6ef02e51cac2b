"""The pipeline's port on Discord: fetching images and clips, replying, and a flag's actions.

A declared size over its kind's cap (the video cap for a video, the image cap for an image) is
refused before the download; the core checks the bytes against their own kind's cap again.

`ChannelPort` answers a message where it was posted; a channel that denies the bot Send
Messages is skipped for `muted_channel_s` (one warning, not a failed request per image). A reply
about more images than fit in one Discord message lists the first and says how many are left out.
`InteractionPort` answers `/check` and the message menu privately, through the interaction's
response or, once that was deferred, its follow-up. Both take the same actions. A reply about
judged images carries a "Why?" button (`bots.discord.why` answers it): in a channel it refers
to the message it answers; a private answer refers to nothing, so the menu's button names the
checked message in its id (`why_data`), and `/check`'s file, in no message, gets none. The
pipeline chooses the language of each text, and the buttons under it are labelled in the same.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import timedelta

import aiohttp
import discord
from cachetools import TTLCache

from bots.discord.inputs import DiscordImage, VideoLink, declared_media
from bots.discord.links import LinkFetcher, LinkUnavailable
from bots.discord.review import buttons
from bots.explain_replies import WHY_BUTTON, WHY_DATA, WHY_PREFIX, is_verdict
from bots.i18n import Words
from bots.moderation_replies import MARKER_EMOJI, TIMEOUT_REASON, flag_notice
from bots.port import Failure
from bots.replies import DISCLAIMER, cut_short
from config import DiscordSettings
from core.errors import N_, ClipTooLarge, ImageTooLarge
from core.images import bytes_text
from core.moderation.types import Action, Flag
from core.result import Media

log = logging.getLogger(__name__)

MESSAGE_LIMIT = 2000  # characters Discord accepts in one message


class DiscordCalls:
    """What every Discord port shares: the client, the link fetcher, the muted channels."""

    def __init__(
        self,
        client: discord.Client,
        links: LinkFetcher,
        settings: DiscordSettings,
        max_bytes: int,
        video_max_bytes: int,
    ) -> None:
        """`max_bytes` is the image cap, `video_max_bytes` the video cap (declared sizes)."""
        self.client = client
        self.links = links
        self.settings = settings
        self.max_bytes = max_bytes
        self.video_max_bytes = video_max_bytes
        self.muted = MutedChannels(settings.muted_channel_s)


class DiscordPort:
    """Everything but the reply, which depends on what is answered."""

    def __init__(self, calls: DiscordCalls) -> None:
        self._calls = calls
        self._client = calls.client

    async def fetch(self, ref: DiscordImage) -> bytes:
        calls = self._calls
        if isinstance(ref, VideoLink):
            return await calls.links.fetch(ref.url, video_max_bytes=calls.video_max_bytes)
        if isinstance(ref, str):
            return await calls.links.fetch(ref)
        check_declared_size(ref, calls.max_bytes, calls.video_max_bytes)
        try:
            async with asyncio.timeout(self._calls.settings.fetch_timeout_s):
                return await ref.read()
        except (discord.HTTPException, aiohttp.ClientError, TimeoutError):
            raise LinkUnavailable() from None  # 403/404: the signed CDN link has expired

    async def react(self, message: discord.Message) -> None:
        await message.add_reaction(MARKER_EMOJI)

    async def warn(self, message: discord.Message, text: str, flag: Flag, words: Words) -> None:
        reference = message.to_reference(fail_if_not_exists=False)
        view = buttons(words, flag.id, "report")
        await message.channel.send(text, reference=reference, view=view)

    async def delete(self, message: discord.Message) -> None:
        await message.delete()

    async def time_out(self, message: discord.Message, minutes: int, words: Words) -> None:
        if isinstance(message.author, discord.Member):  # not in a DM, nor a left member
            until = timedelta(minutes=minutes)
            await message.author.timeout(until, reason=words.gettext(TIMEOUT_REASON))

    async def post_flag(
        self, message: discord.Message, flag: Flag, modlog: str, words: Words
    ) -> str:
        channel = self._client.get_partial_messageable(int(modlog))
        where = getattr(message.channel, "mention", f"<#{message.channel.id}>")
        text = flag_notice(
            words,
            flag.id,
            message.author.mention,
            where,
            flag.flag.fake_probability,
            message.jump_url,
            flag.flag.media.value,
            declared=flag.flag.declared,
        )
        posted = await channel.send(text, view=buttons(words, flag.id, "confirm", "dismiss"))
        return str(posted.id)

    async def tell(self, message: discord.Message, text: str, modlog: str | None) -> None:
        """Post to the mod-log if there is one the bot may use, otherwise DM the server's owner."""
        if modlog is not None:
            try:
                await self._client.get_partial_messageable(int(modlog)).send(text)
                return
            except discord.HTTPException as error:
                log.warning("cannot post to the mod-log: %s", error.text or error.status)
        guild = message.guild
        if guild is None or guild.owner_id is None:
            return
        try:
            owner = await self._client.create_dm(discord.Object(guild.owner_id))
            await owner.send(text)
        except discord.HTTPException as error:
            log.warning("cannot tell the owner of %s: %s", guild.id, error.text or error.status)

    def place(self, message: discord.Message, channel: str) -> str:
        return f"<#{channel}>"

    def failure(self, error: Exception, action: Action) -> Failure | None:
        if isinstance(error, discord.Forbidden):
            return Failure.REFUSED
        if isinstance(error, discord.NotFound):
            # A deleted mod-log channel will not come back; a deleted message or member is gone.
            return Failure.REFUSED if action is Action.MODLOG else Failure.GONE
        if isinstance(error, discord.HTTPException | discord.RateLimited):
            return Failure.FAILED
        return None


class ChannelPort(DiscordPort):
    """Answers a message in its channel, quoting it, unless the channel refused recently."""

    def __init__(self, calls: DiscordCalls, message: discord.Message) -> None:
        super().__init__(calls)
        self._message = message

    async def reply(self, text: str, flag: Flag | None, words: Words) -> None:
        message, muted = self._message, self._calls.muted
        if muted.muted(message.channel.id):
            return  # the channel is still moderated; only the answer is skipped
        reference = message.to_reference(fail_if_not_exists=False)
        view = buttons(words, flag.id, "report") if flag is not None else None
        if is_verdict(text, words):
            view = with_why(words, view)
        try:
            await message.channel.send(
                fitted(words, text),
                reference=reference,
                mention_author=False,
                view=view if view is not None else discord.utils.MISSING,
            )
        except discord.Forbidden as error:
            if muted.mute(message.channel.id):
                log.warning(
                    "cannot reply in channel %s (%s); skipping it for %.0f s",
                    message.channel.id,
                    error.text or error.status,
                    self._calls.settings.muted_channel_s,
                )
        except discord.RateLimited as error:
            log.warning("dropped a reply: rate limited for %.0f s", error.retry_after)
        except discord.HTTPException as error:
            log.warning("reply in channel %s failed: %s", message.channel.id, error)


class InteractionPort(DiscordPort):
    """Answers an interaction privately; `defer` shows "thinking..." while the answer is made.

    `why` is the id of the "Why?" button a verdict gets (`why_data`); None for no button.
    """

    def __init__(
        self, calls: DiscordCalls, interaction: discord.Interaction, why: str | None = None
    ) -> None:
        super().__init__(calls)
        self._interaction = interaction
        self._why = why
        self._responding = asyncio.Lock()  # a deferral and the answer must not cross

    async def defer(self) -> None:
        async with self._responding:
            if not self._interaction.response.is_done():
                await self._interaction.response.defer(ephemeral=True, thinking=True)

    async def reply(self, text: str, flag: Flag | None, words: Words) -> None:
        """The private answer; a report button is for the poster, so it has none."""
        interaction = self._interaction
        view: discord.ui.View = discord.utils.MISSING
        if self._why is not None and is_verdict(text, words):
            view = with_why(words, data=self._why)
        try:
            async with self._responding:
                if interaction.response.is_done():
                    await interaction.followup.send(fitted(words, text), ephemeral=True, view=view)
                else:
                    await interaction.response.send_message(
                        fitted(words, text), ephemeral=True, view=view
                    )
        except discord.HTTPException as error:
            log.warning("answer to interaction %s failed: %s", interaction.id, error)


def check_declared_size(attachment: discord.Attachment, images: int, video: int) -> None:
    """Refuse an attachment by its declared size, before the download, under its kind's cap.

    The core checks the bytes against their own kind's cap again; a file that says nothing
    useful may be either, so it gets the larger cap and its bytes decide.
    """
    declared = declared_media(attachment)
    if declared is Media.IMAGE:
        if attachment.size > images:
            raise ImageTooLarge()
        return
    cap = video if declared is Media.VIDEO else max(images, video)
    if attachment.size > cap:
        raise ClipTooLarge(N_("the video is too large (limit {limit})"), limit=bytes_text(cap))


def with_why(
    words: Words, view: discord.ui.View | None = None, data: str = WHY_DATA
) -> discord.ui.View:
    """`view` (or a new one) with the "Why?" button of id `data`; stopped: its id routes, not
    a view."""
    view = view if view is not None else discord.ui.View(timeout=None)
    why: discord.ui.Button[discord.ui.View] = discord.ui.Button(
        label=words.gettext(WHY_BUTTON), style=discord.ButtonStyle.secondary, custom_id=data
    )
    view.add_item(why)
    view.stop()
    return view


def why_data(message: discord.Message) -> str:
    """The id of a private answer's "Why?" button about `message`: `dg:why:<channel>:<message>`
    (at most 48 characters; Discord takes 100)."""
    return f"{WHY_PREFIX}{message.channel.id}:{message.id}"


def fitted(words: Words, text: str, limit: int = MESSAGE_LIMIT) -> str:
    """The reply as Discord takes it: past `limit`, the first lines that fit and a note.

    The disclaimer that ends a reply about judged images stays.
    """
    if len(text) <= limit:
        return text
    lines = text.split("\n")
    tail = [lines.pop()] if lines[-1] == words.gettext(DISCLAIMER) else []
    kept: list[str] = []
    while (
        lines and len("\n".join([*kept, lines[0], cut_short(words, len(lines)), *tail])) <= limit
    ):
        kept.append(lines.pop(0))
    return "\n".join([*kept, cut_short(words, len(lines)), *tail])


class MutedChannels:
    """Channels where the bot may not reply, skipped until the permission may be back.

    At most `capacity` are remembered; past that, the least recently muted is tried again early.
    """

    def __init__(
        self,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
        capacity: int = 10_000,
    ) -> None:
        self._muted: TTLCache[int, bool] = TTLCache(capacity, ttl_s, timer=clock)

    def muted(self, channel_id: int) -> bool:
        return channel_id in self._muted

    def mute(self, channel_id: int) -> bool:
        """Mute a channel; True only if it was not muted already (so log just once)."""
        if self.muted(channel_id):
            return False
        self._muted[channel_id] = True
        return True
