"""Find the images in a Discord message: attachments, previewed links and stickers.

An attachment counts by its bytes, not its label: a declared image is always checked, and a
file with no useful content type is downloaded and checked only if its bytes are an image. Each
image gets a key that is stable across gateway replays and edits, so the same image of the same
message is answered once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

import aiohttp
import discord

from bots.discord.link_guard import LinkUnavailable
from bots.discord.links import LinkFetcher
from config import DiscordSettings
from core.errors import ImageTooLarge
from core.images import sniff_format

_IMAGE_SUFFIXES: Final = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".avif", ".heic", ".heif")
_UNLABELLED: Final = frozenset({"", "application/octet-stream", "binary/octet-stream"})
_STICKER_FORMATS: Final = frozenset(
    {discord.StickerFormatType.png, discord.StickerFormatType.apng}
)


@dataclass(frozen=True, slots=True)
class ImageSource:
    """One image of a message and how to get its bytes."""

    key: str
    fetch: Callable[[], Awaitable[bytes]]
    sniff: bool = False  # not labelled as an image: skip it quietly unless its bytes are one


class MessageImages:
    """Turns messages into image sources, within the configured limits."""

    def __init__(self, settings: DiscordSettings, links: LinkFetcher, max_bytes: int) -> None:
        self._settings = settings
        self._links = links
        self._max_bytes = max_bytes

    def sources(self, message: discord.Message) -> list[ImageSource]:
        """The images of `message`, attachments first, at most the per-message limit."""
        found = [source for item in message.attachments if (source := self.attachment(item))]
        found += self._embeds(message.embeds)
        found += [
            self._sticker(item) for item in message.stickers if item.format in _STICKER_FORMATS
        ]
        return found[: self._settings.max_images_per_message]

    def attachment(
        self, attachment: discord.Attachment, *, explicit: bool = False
    ) -> ImageSource | None:
        """A source for an attachment that may be an image; `explicit` when a user chose it."""
        label = (attachment.content_type or "").split(";")[0].strip().lower()
        declared = (
            explicit
            or label.startswith("image/")
            or attachment.filename.lower().endswith(_IMAGE_SUFFIXES)
        )
        if not declared and label not in _UNLABELLED:
            return None  # a video, a PDF, a text file: not ours to judge

        async def fetch() -> bytes:
            if attachment.size > self._max_bytes:
                raise ImageTooLarge()
            try:
                async with asyncio.timeout(self._settings.fetch_timeout_s):
                    return await attachment.read()
            except (discord.HTTPException, aiohttp.ClientError, TimeoutError):
                raise LinkUnavailable() from None  # 403/404: the signed CDN link has expired

        return ImageSource(f"attachment:{attachment.id}", fetch, sniff=not declared)

    def _embeds(self, embeds: list[discord.Embed]) -> list[ImageSource]:
        found: dict[str, ImageSource] = {}
        for embed in embeds:
            for media in (embed.image, embed.thumbnail):
                if media.url and media.url not in found:
                    link = media.proxy_url or media.url  # Discord's own copy when it made one
                    found[media.url] = ImageSource(f"link:{media.url}", self._fetcher(link))
        return list(found.values())

    def _sticker(self, sticker: discord.StickerItem) -> ImageSource:
        link = f"{self._settings.cdn_base_url.rstrip('/')}/stickers/{sticker.id}.png"
        return ImageSource(f"sticker:{sticker.id}", self._fetcher(link))

    def _fetcher(self, link: str) -> Callable[[], Awaitable[bytes]]:
        async def fetch() -> bytes:
            return await self._links.fetch(link)

        return fetch


def is_image(data: bytes) -> bool:
    """True when the bytes start like a format the core decodes."""
    return sniff_format(data) is not None
