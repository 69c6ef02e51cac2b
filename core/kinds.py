"""What an upload is, from its bytes alone: a still image, an animation or a video.

Never from a file name or a MIME label. Videos are ISO BMFF files whose `ftyp` box names a
video brand (MP4, MOV, M4V, 3GP) and EBML files whose DocType is `webm` or `matroska`; each
is opened with exactly that FFmpeg demuxer, so FFmpeg never probes for another. GIF, PNG and
WebP files with two frames or more are animations; everything else `core.images` allows is
a still image, and every other container is refused.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from config import ImageLimits, VideoSettings
from core.errors import N_, ClipTooLarge
from core.images import bytes_text, check_byte_size, sniff_format
from core.result import Media
from core.timeline import read_timeline

_EBML_MAGIC: Final = b"\x1a\x45\xdf\xa3"
_EBML_DOCTYPE_ID: Final = b"\x42\x82"
_DOCTYPES: Final = (b"webm", b"matroska")
# Brands of ISO BMFF files that hold video (or sound only, refused later as "no picture").
_VIDEO_BRANDS: Final = frozenset(
    {
        *(b"iso" + bytes([digit]) for digit in b"m23456789"),
        b"mp41",
        b"mp42",
        b"mp71",
        b"avc1",
        b"M4V ",
        b"M4VH",
        b"M4VP",
        b"M4A ",
        b"qt  ",
        b"dash",
        b"mmp4",
        b"MSNV",
        b"XAVC",
        b"f4v ",
        *(b"3gp" + bytes([digit]) for digit in b"456789"),
        b"3g2a",
        b"3g2b",
        b"3g2c",
    }
)
_ANIMATED_FORMATS: Final = frozenset({"GIF", "PNG", "WEBP"})
# FFmpeg's demuxers, named as `av.open(format=...)` takes them.
MP4_DEMUXER: Final = "mov"
MATROSKA_DEMUXER: Final = "matroska"
# Enough of a file to tell a video container by: the `ftyp` box or the EBML header.
HEAD_BYTES: Final = 256


@dataclass(frozen=True, slots=True)
class Kind:
    """The media, and the decoder that reads it: Pillow's format name or FFmpeg's demuxer."""

    media: Media
    decoder: str


def kind_of(data: bytes) -> Kind | None:
    """The kind of `data`, or None when no allowed decoder reads it."""
    fmt = sniff_format(data)
    if fmt is None:
        demuxer = video_demuxer(data)
        return None if demuxer is None else Kind(Media.VIDEO, demuxer)
    if fmt in _ANIMATED_FORMATS and _animated(data, fmt):
        return Kind(Media.ANIMATION, fmt)
    return Kind(Media.IMAGE, fmt)


def check_upload_size(size: int, head: bytes, limits: ImageLimits, video: VideoSettings) -> None:
    """Refuse an upload over its kind's byte cap before anything reads (or hashes) it all.

    Videos have their own cap; images and animations share the image one. `head` is the first
    `HEAD_BYTES` bytes (or all of a shorter file).
    """
    if video_demuxer(head) is None:
        check_byte_size(size, limits)
    elif size > video.max_bytes:
        raise ClipTooLarge(
            N_("the video is too large (limit {limit})"), limit=bytes_text(video.max_bytes)
        )


def video_demuxer(head: bytes) -> str | None:
    """FFmpeg's demuxer for a video container, from the first `HEAD_BYTES` bytes or more."""
    if head[4:8] == b"ftyp" and sniff_format(head) is None:
        box_end = min(int.from_bytes(head[:4], "big"), len(head), HEAD_BYTES)
        brands = [head[8:12]] + [head[i : i + 4] for i in range(16, box_end - 3, 4)]
        return MP4_DEMUXER if any(brand in _VIDEO_BRANDS for brand in brands) else None
    if head.startswith(_EBML_MAGIC) and _ebml_doctype(head) in _DOCTYPES:
        return MATROSKA_DEMUXER
    return None


def _ebml_doctype(head: bytes) -> bytes | None:
    """The EBML header's DocType string: a one-byte size marker is all writers use for it."""
    at = head.find(_EBML_DOCTYPE_ID, len(_EBML_MAGIC), HEAD_BYTES)
    if at < 0 or at + 3 > len(head) or not head[at + 2] & 0x80:
        return None
    size = head[at + 2] & 0x7F
    return head[at + 3 : at + 3 + size]


def _animated(data: bytes, fmt: str) -> bool:
    try:
        return read_timeline(data, fmt, at_most=2).frame_count > 1
    except (struct.error, IndexError):
        return False  # too short to walk: the image decoder says how it is broken
