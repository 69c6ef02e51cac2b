"""Which file in a Telegram message is the image or clip to check, how its bytes are fetched,
and how the messages of an album are gathered into one upload.

Telegram sends one photo in several sizes, images as documents (to keep their quality),
stickers as WebP (or WebM for video stickers; animated Lottie ones are skipped), GIFs as MP4
`animation`s, and videos and round video notes as MP4. A document's label is not trusted either
way: a file whose name or type says image or video is always checked, so a broken one gets a
reason, and a file labelled only as generic binary is checked too, but answered only when its
bytes turn out to be an image or a clip. Bots may download at most 20 MB from the Bot API, so a
larger declared `file_size` is refused, naming that limit, before any getFile call.

An album arrives as separate messages sharing a `media_group_id`, usually in one batch of
updates but with no marker for the last one. The first message to arrive waits until no further
one has come for a quiet period, then takes the whole album, so it gets one reply.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Final, Generic, TypeVar

from telegram import Animation, Bot, Document, Message, PhotoSize, Sticker, Video, VideoNote
from telegram.error import BadRequest, TelegramError

from bots import replies
from core.errors import N_, DeepGuardError, ImageTooLarge

log = logging.getLogger(__name__)

T = TypeVar("T")

MiB: Final = 1024 * 1024
IMAGE_SUFFIXES: Final = frozenset(
    {".jpg", ".jpeg", ".jfif", ".png", ".webp", ".gif", ".heic", ".heif", ".avif", ".bmp", ".tif"}
)
VIDEO_SUFFIXES: Final = frozenset({".mp4", ".m4v", ".mov", ".webm", ".mkv"})
# Labels that say nothing about the content, so the bytes decide.
GENERIC_TYPES: Final = frozenset(
    {"", "application/octet-stream", "binary/octet-stream", "application/binary"}
)


class DownloadFailed(DeepGuardError):
    default_message = replies.DOWNLOAD_FAILED_REASON


class OverDownloadLimit(ImageTooLarge):
    """Declared larger than the Bot API lets a bot download (`getFile` would refuse it)."""

    subject = "file"


@dataclass(frozen=True, slots=True)
class Media:
    """One file to check; `claimed` is false when only its bytes can say it is an image."""

    file_id: str
    unique_id: str
    size: int | None
    claimed: bool = True


def media_of(message: Message, max_bytes: int) -> Media | None:
    """The file in `message` worth checking, or None when there is nothing to check."""
    if message.photo:
        return _photo(message.photo, max_bytes)
    # An animation's message carries it as a `document` too: the animation is the one to take.
    clip = message.animation or message.video or message.video_note
    if clip is not None:
        return _clip(clip)
    if message.document:
        return _document(message.document, max_bytes)
    if message.sticker:
        return _sticker(message.sticker)
    return None


def _photo(sizes: Sequence[PhotoSize], max_bytes: int) -> Media:
    fitting = [size for size in sizes if not _too_large(size.file_size, max_bytes)]
    # When no size fits, the smallest is kept so the refusal names the limit.
    candidates = fitting or [min(sizes, key=lambda size: size.width * size.height)]
    best = max(candidates, key=lambda size: size.width * size.height)
    return Media(best.file_id, best.file_unique_id, best.file_size)


def _document(document: Document, max_bytes: int) -> Media | None:
    mime = (document.mime_type or "").lower()
    suffix = PurePosixPath(document.file_name or "").suffix.lower()
    claimed = mime.startswith(("image/", "video/")) or suffix in IMAGE_SUFFIXES | VIDEO_SUFFIXES
    if not claimed and (mime not in GENERIC_TYPES or _too_large(document.file_size, max_bytes)):
        return None
    return Media(document.file_id, document.file_unique_id, document.file_size, claimed)


def _clip(clip: Animation | Video | VideoNote) -> Media:
    return Media(clip.file_id, clip.file_unique_id, clip.file_size)


def _sticker(sticker: Sticker) -> Media | None:
    if sticker.is_animated:  # Lottie: vector drawing instructions, not a picture
        return None
    return Media(sticker.file_id, sticker.file_unique_id, sticker.file_size)  # WebP or WebM


def _too_large(size: int | None, max_bytes: int) -> bool:
    return size is not None and size > max_bytes


def too_large_error(max_bytes: int) -> ImageTooLarge:
    return OverDownloadLimit(
        N_("it is over Telegram's {limit} download limit for bots"),
        limit=f"{round(max_bytes / MiB, 1):g} MB",
    )


async def fetch(bot: Bot, media: Media, max_bytes: int, timeout_s: float) -> bytes:
    """Download the file, refusing from its declared size before asking Telegram for it."""
    if _too_large(media.size, max_bytes):
        raise too_large_error(max_bytes)
    try:
        file = await bot.get_file(media.file_id, read_timeout=timeout_s)
        if _too_large(file.file_size, max_bytes):
            raise too_large_error(max_bytes)
        return bytes(await file.download_as_bytearray(read_timeout=timeout_s))
    except BadRequest as exc:
        if "too big" in exc.message.lower():
            raise too_large_error(max_bytes) from None
        log.warning("Telegram refused file %s: %s", media.unique_id, exc)
        raise DownloadFailed() from None
    except TelegramError as exc:
        log.warning("download of file %s failed: %s", media.unique_id, exc)
        raise DownloadFailed() from None


@dataclass(slots=True)
class _Album(Generic[T]):
    items: list[T]
    arrived: asyncio.Event = field(default_factory=asyncio.Event)


class Albums(Generic[T]):
    """`gather` returns every item of an album to its first caller, and None to the others."""

    def __init__(self, quiet_s: float) -> None:
        self._quiet_s = quiet_s
        self._open: dict[Hashable, _Album[T]] = {}

    async def gather(self, key: Hashable, item: T) -> list[T] | None:
        album = self._open.get(key)
        if album is not None:
            album.items.append(item)
            album.arrived.set()
            return None
        album = self._open[key] = _Album([item])
        try:
            while True:
                try:
                    await asyncio.wait_for(album.arrived.wait(), self._quiet_s)
                except TimeoutError:
                    return album.items
                album.arrived.clear()
        finally:
            del self._open[key]
