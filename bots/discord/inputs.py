"""What the pipeline gets from Discord: the uploads of a message, who posted them and where.

Uploads are attachments (images, GIFs and videos), previewed links, `gifv` embeds (Tenor and
Giphy links, whose MP4 is fetched from Discord's media proxy, never the provider) and stickers
(PNG, APNG and GIF; Lottie is drawn, not a picture). An attachment counts by its bytes, not its
label: a declared image or video is always checked, and a file with no useful content type is
fetched and checked only if its bytes are an image or a clip. Each upload gets a key that is
stable across gateway replays and edits, so the same upload of the same message is answered
once; a link is keyed by its URL's SHA-256, so that a long URL makes no long key. A thread
counts as its parent channel for the policy's exemptions. An event carries the server's own
language (its `preferred_locale`) and, for an interaction, the presser's (`interaction.locale`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import discord

from bots.port import Event, Image, Post
from config import DiscordSettings
from core.moderation.types import ChatKey, UploadContext
from core.result import Media

_IMAGE_SUFFIXES: Final = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".avif", ".heic", ".heif")
_VIDEO_SUFFIXES: Final = (".mp4", ".m4v", ".mov", ".webm", ".mkv")
_UNLABELLED: Final = frozenset({"", "application/octet-stream", "binary/octet-stream"})
_STICKER_FORMATS: Final = frozenset(
    {discord.StickerFormatType.png, discord.StickerFormatType.apng, discord.StickerFormatType.gif}
)


@dataclass(frozen=True, slots=True)
class VideoLink:
    """A `gifv` embed's video on Discord's media proxy: fetched under the video byte cap."""

    url: str


# An upload on Discord: an attachment, or the link of a preview, a sticker or a gifv's video.
DiscordImage = discord.Attachment | str | VideoLink
DiscordEvent = Event[discord.Message, DiscordImage]


class Collector:
    """Turns messages and commands into the pipeline's events, within the configured limits."""

    def __init__(self, settings: DiscordSettings) -> None:
        self._settings = settings

    def posted(self, message: discord.Message) -> DiscordEvent:
        """A message posted (or edited) in a channel the bot reads."""
        chat, private = chat_of(message)
        context = upload_context(message, private=private)
        return Event(
            chat,
            message.author.id,
            context,
            [self._post(message, context)],
            chat_language=server_language(message.guild),
        )

    async def checked_message(
        self, interaction: discord.Interaction, message: discord.Message
    ) -> DiscordEvent:
        """The message menu's check: the asker is answered, the message flagged as policy says."""
        chat, private = chat_of(message)
        author = await as_member(message.guild, message.author) if message.guild else None
        context = upload_context(message, private=private, author=author, requested=True)
        return Event(
            chat,
            interaction.user.id,
            context,
            [self._post(message, context)],
            answer_language=str(interaction.locale),
            chat_language=server_language(message.guild),
        )

    def checked_file(
        self, interaction: discord.Interaction, attachment: discord.Attachment
    ) -> DiscordEvent:
        """`/check image:<file>`: a file in no message, so answered and never flagged."""
        channel = str(interaction.channel_id)
        private = interaction.guild_id is None
        chat = ChatKey("discord", f"dm:{channel}" if private else str(interaction.guild_id))
        user = str(interaction.user.id)
        context = UploadContext(private=private, channel=channel, user=user, requested=True)
        image = self.attachment(attachment, explicit=True)
        post: Post[discord.Message, DiscordImage] = Post(
            f"interaction:{interaction.id}", channel, context, [image] if image else []
        )
        return Event(
            chat,
            interaction.user.id,
            context,
            [post],
            answer_language=str(interaction.locale),
            chat_language=str(interaction.guild_locale) if interaction.guild_locale else None,
        )

    def _post(
        self, message: discord.Message, context: UploadContext
    ) -> Post[discord.Message, DiscordImage]:
        """A message as the pipeline sees it; its time is its snowflake's."""
        return Post(
            str(message.id),
            str(message.channel.id),
            context,
            self.images(message),
            message,
            sent=message.created_at,
        )

    def images(self, message: discord.Message) -> list[Image[DiscordImage]]:
        """Every image of `message`, attachments first (the pipeline may cap them)."""
        found = [image for item in message.attachments if (image := self.attachment(item))]
        found += _previews(message.embeds)
        found += [
            self._sticker(item) for item in message.stickers if item.format in _STICKER_FORMATS
        ]
        return found

    def attachment(
        self, attachment: discord.Attachment, *, explicit: bool = False
    ) -> Image[DiscordImage] | None:
        """An attachment that may be an image or a clip; `explicit` when a user chose it."""
        label = _label(attachment)
        declared = (
            explicit
            or label.startswith(("image/", "video/"))
            or attachment.filename.lower().endswith(_IMAGE_SUFFIXES + _VIDEO_SUFFIXES)
        )
        if not declared and label not in _UNLABELLED:
            return None  # a PDF, a sound, a text file: not ours to judge
        return Image(f"attachment:{attachment.id}", attachment, sniff=not declared)

    def _sticker(self, sticker: discord.StickerItem) -> Image[DiscordImage]:
        # GIF stickers are served by the media proxy only; PNG and APNG ones by the CDN.
        gif = sticker.format is discord.StickerFormatType.gif
        base = self._settings.media_base_url if gif else self._settings.cdn_base_url
        link = f"{base.rstrip('/')}/stickers/{sticker.id}.{sticker.format.file_extension}"
        return Image(f"sticker:{sticker.id}", link)


def declared_media(attachment: discord.Attachment) -> Media | None:
    """What an attachment says it is, by its label (or its name when unlabelled): a video,
    an image (a GIF included), or None when it says nothing useful."""
    label, name = _label(attachment), attachment.filename.lower()
    if label.startswith("video/") or (label in _UNLABELLED and name.endswith(_VIDEO_SUFFIXES)):
        return Media.VIDEO
    if label.startswith("image/") or name.endswith(_IMAGE_SUFFIXES):
        return Media.IMAGE
    return None


def _label(attachment: discord.Attachment) -> str:
    return (attachment.content_type or "").split(";")[0].strip().lower()


def _previews(embeds: list[discord.Embed]) -> list[Image[DiscordImage]]:
    found: dict[str, Image[DiscordImage]] = {}
    for embed in embeds:
        if embed.type == "gifv":
            gifv = _gifv(embed)
            if gifv is not None:
                found.setdefault(embed.url or gifv.key, gifv)
            continue
        for media in (embed.image, embed.thumbnail):
            if media.url and media.url not in found:
                link = media.proxy_url or media.url  # Discord's own copy when it made one
                digest = hashlib.sha256(media.url.encode()).hexdigest()  # URLs can be KBs long
                found[media.url] = Image(f"link:{digest}", link)
    return list(found.values())


def _gifv(embed: discord.Embed) -> Image[DiscordImage] | None:
    """A Tenor or Giphy clip: its MP4 from Discord's media proxy, else the proxy's still.

    Only Discord's copies (`proxy_url`) are fetched, never the provider's own URL.
    """
    video, thumbnail = embed.video, embed.thumbnail
    if video.proxy_url:
        link: DiscordImage = VideoLink(video.proxy_url)
    elif thumbnail.proxy_url:
        link = thumbnail.proxy_url
    else:
        return None
    source = embed.url or video.url or thumbnail.url or str(link)
    return Image(f"link:{hashlib.sha256(source.encode()).hexdigest()}", link)


def server_language(guild: discord.Guild | None) -> str | None:
    """The language a server set in Discord (its Community settings); None outside servers."""
    return str(guild.preferred_locale) if guild is not None else None


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
