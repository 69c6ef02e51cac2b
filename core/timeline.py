"""When each frame of an animation shows, read from its blocks and chunks without decoding.

Sampling evenly in time needs every frame's start before the first pixel is decoded, and the
duration cap must be checked from the header; Pillow knows a frame's delay only once it has
decoded every frame before it. So the three formats are walked here: GIF blocks (graphic
control delays and image descriptors), APNG chunks (`fcTL`) and WebP RIFF chunks (`ANMF`).
Walking a 25 MB GIF touches each 255-byte data sub-block once (~100k steps), and decodes none.

A delay of 10 ms or less plays as 100 ms, as browsers play it: GIFs made for the web often
declare 0, and counting them as instant would squash a clip's time axis.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

_MIN_DELAY_US: Final = 10_000  # at or below it, a frame plays as...
_PLAYED_DELAY_US: Final = 100_000  # ...this long
_PNG_SIGNATURE_LENGTH: Final = 8


@dataclass(frozen=True, slots=True)
class Timeline:
    """Each frame's start in microseconds, in order; `first_index` maps them to Pillow's frames.

    `first_index` is 1 when an APNG's default image is not part of its animation: Pillow shows
    that image as frame 0 and the animation after it.
    """

    starts_us: tuple[int, ...]
    end_us: int
    canvas: tuple[int, int]  # the largest width and height any frame reaches
    first_index: int = 0

    @property
    def frame_count(self) -> int:
        return len(self.starts_us)

    @property
    def duration_s(self) -> float:
        return self.end_us / 1e6


def read_timeline(data: bytes, fmt: str, at_most: int | None = None) -> Timeline:
    """The frames of a GIF, PNG or WEBP file (a still image has one); stop after `at_most`."""
    if fmt == "GIF":
        return _gif(data, at_most)
    if fmt == "PNG":
        return _png(data, at_most)
    if fmt == "WEBP":
        return _webp(data, at_most)
    raise ValueError(f"no timeline for {fmt}; this is a bug")


def _build(delays_us: list[int], canvas: tuple[int, int], first_index: int = 0) -> Timeline:
    starts, now = [], 0
    for delay in delays_us:
        starts.append(now)
        now += _PLAYED_DELAY_US if delay <= _MIN_DELAY_US else delay
    return Timeline(tuple(starts), now, canvas, first_index)


def _gif(data: bytes, at_most: int | None) -> Timeline:
    width, height, flags = struct.unpack_from("<HHB", data, 6)
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    delays: list[int] = []
    delay = 0
    right, bottom = width, height
    while pos < len(data) and (at_most is None or len(delays) < at_most):
        block = data[pos]
        if block == 0x3B:  # trailer
            break
        if block == 0x21 and pos + 1 < len(data):  # extension: label, then sub-blocks
            if data[pos + 1] == 0xF9 and pos + 6 <= len(data):  # graphic control: the delay
                delay = int.from_bytes(data[pos + 4 : pos + 6], "little") * 10_000
            pos = _skip_sub_blocks(data, pos + 2)
        elif block == 0x2C and pos + 10 <= len(data):  # image descriptor
            x, y, w, h, image_flags = struct.unpack_from("<HHHHB", data, pos + 1)
            right, bottom = max(right, x + w), max(bottom, y + h)
            pos += 10 + (3 << ((image_flags & 7) + 1) if image_flags & 0x80 else 0)
            pos = _skip_sub_blocks(data, pos + 1)  # after the LZW code size
            delays.append(delay)
            delay = 0
        else:
            pos += 1  # a stray byte: Pillow skips it too
    return _build(delays, (right, bottom))


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    while pos < len(data):
        size = data[pos]
        pos += 1
        if size == 0:
            break
        pos += size
    return pos


def _png(data: bytes, at_most: int | None) -> Timeline:
    pos = _PNG_SIGNATURE_LENGTH
    width = height = 0
    animated = seen_idat = False
    first_index = 0
    delays: list[int] = []
    while pos + 8 <= len(data) and (at_most is None or len(delays) < at_most):
        length, kind = struct.unpack_from(">I4s", data, pos)
        body = pos + 8
        if kind == b"IHDR" and length >= 8:
            width, height = struct.unpack_from(">II", data, body)
        elif kind == b"acTL" and not seen_idat:
            animated = True
        elif kind == b"fcTL" and animated and body + 26 <= len(data):
            numerator, denominator = struct.unpack_from(">HH", data, body + 20)
            delays.append(numerator * 1_000_000 // (denominator or 100))
        elif kind == b"IDAT" and not seen_idat:
            seen_idat = True
            first_index = 1 if animated and not delays else 0
        elif kind == b"IEND":
            break
        pos = body + length + 4  # and the CRC
    if not animated or not delays:
        return _build([0], (width, height))
    return _build(delays, (width, height), first_index)


def _webp(data: bytes, at_most: int | None) -> Timeline:
    pos = 12
    width = height = 0
    animated = False
    delays: list[int] = []
    while pos + 8 <= len(data) and (at_most is None or len(delays) < at_most):
        fourcc = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        body = pos + 8
        if fourcc == b"VP8X" and body + 10 <= len(data):
            animated = bool(data[body] & 0x02)
            width, height = _u24(data, body + 4) + 1, _u24(data, body + 7) + 1
        elif fourcc == b"ANMF" and animated and body + 15 <= len(data):
            delays.append(_u24(data, body + 12) * 1000)
        pos = body + size + (size & 1)  # chunks are padded to an even length
    if not animated or not delays:
        return _build([0], (width, height))
    return _build(delays, (width, height))


def _u24(data: bytes, pos: int) -> int:
    return int.from_bytes(data[pos : pos + 3], "little")
