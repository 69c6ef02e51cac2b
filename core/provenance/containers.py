"""Find an image's metadata blocks (C2PA, XMP, EXIF, PNG text) by walking its container.

Only headers are read: never a pixel. JPEG is walked up to its first scan, PNG and WebP chunk by
chunk; the others (GIF, AVIF, HEIF) are searched for the markers of a manifest or an XMP packet.
Everything is capped: the bytes kept per block, the number of chunks walked, and a deadline.
"""

from __future__ import annotations

import logging
import time
import zlib
from dataclasses import dataclass, field
from typing import Final

log = logging.getLogger(__name__)

TEXT_CAP: Final = 64 * 1024  # characters kept of each PNG text chunk (a workflow can be MBs)
XMP_CAP: Final = 1024 * 1024  # bytes of one XMP packet; a larger one is skipped
EXIF_CAP: Final = 1024 * 1024  # bytes of one EXIF block; a larger one is skipped
MAX_TEXT_CHUNKS: Final = 64
MAX_CHUNKS: Final = 100_000  # chunks walked before giving up (a PNG may cut IDAT very fine)
_CHECK_EVERY: Final = 256  # chunks between two looks at the clock

_XMP_JPEG: Final = b"http://ns.adobe.com/xap/1.0/\x00"
_XMP_KEYWORD: Final = "XML:com.adobe.xmp"
_XMP_START: Final = b"<x:xmpmeta"
_XMP_END: Final = b"</x:xmpmeta>"


@dataclass(slots=True)
class Blocks:
    """The metadata found in one image, each part capped."""

    c2pa: bool = False  # a C2PA manifest store is embedded
    manifest_bytes: int = 0  # its size where the container tells (0 when searched for)
    xmp: list[bytes] = field(default_factory=list)
    exif: list[bytes] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)  # PNG keyword -> its text's start
    complete: bool = True  # False when the walk stopped at a cap or the deadline


def find_blocks(data: bytes, fmt: str, deadline: float) -> Blocks:
    """Walk `data`, whose format `core.images.sniff_format` named, until done or `deadline`."""
    blocks = Blocks()
    view = memoryview(data)
    if fmt == "JPEG":
        _jpeg(view, blocks)
    elif fmt == "PNG":
        _png(view, blocks, deadline)
    elif fmt == "WEBP":
        _webp(view, blocks, deadline)
    else:
        _search(data, blocks)
    return blocks


def _jpeg(data: memoryview, blocks: Blocks) -> None:
    """APP segments come before the first scan; at most 64 KB each."""
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            blocks.complete = False  # not a marker: damaged, stop here
            return
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:  # no length
            pos += 2
            continue
        if marker in (0xDA, 0xD9):  # start of scan, end of image
            return
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        body = bytes(data[pos + 4 : pos + 2 + length])  # at most 64 KB
        if marker == 0xE1 and body.startswith(b"Exif\x00\x00"):
            blocks.exif.append(body)
        elif marker == 0xE1 and body.startswith(_XMP_JPEG):
            blocks.xmp.append(body[len(_XMP_JPEG) :])
        elif marker == 0xEB and body[:2] == b"JP":  # APP11: JUMBF, C2PA's carrier
            blocks.c2pa = True
            blocks.manifest_bytes += len(body)
        pos += 2 + max(length, 2)


def _png(data: memoryview, blocks: Blocks, deadline: float) -> None:
    pos, count = 8, 0
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = bytes(data[pos + 4 : pos + 8])
        start, end = pos + 8, pos + 8 + length
        if end > len(data):
            blocks.complete = False
            return
        body = data[start:end]
        if kind in (b"tEXt", b"zTXt", b"iTXt"):
            _png_text(kind, body, blocks)
        elif kind == b"eXIf" and length <= EXIF_CAP:
            blocks.exif.append(bytes(body))
        elif kind == b"caBX":
            blocks.c2pa = True
            blocks.manifest_bytes += length
        elif kind == b"IEND":
            return
        pos = end + 4  # skip the CRC
        count += 1
        if not _go_on(count, deadline, blocks):
            return


def _png_text(kind: bytes, body: memoryview, blocks: Blocks) -> None:
    """tEXt and zTXt are Latin-1, iTXt UTF-8; compressed ones are inflated only up to the cap."""
    head = bytes(body[:80])
    if b"\x00" not in head:
        return
    keyword = head[: head.index(b"\x00")].decode("latin-1")
    if keyword in blocks.texts or len(blocks.texts) >= MAX_TEXT_CHUNKS:
        return
    rest = body[len(keyword) + 1 :]
    cap = XMP_CAP if keyword == _XMP_KEYWORD else TEXT_CAP
    encoding = "latin-1"
    if kind == b"tEXt":
        raw = bytes(rest[:cap])
    elif kind == b"zTXt":
        raw = _inflate(rest[1:], cap)
    else:
        compressed = bytes(rest[:1]) == b"\x01"
        rest = rest[2:]
        for _ in range(2):  # language tag, translated keyword
            end = bytes(rest[:TEXT_CAP]).find(b"\x00")
            if end < 0:
                return
            rest = rest[end + 1 :]
        raw = _inflate(rest, cap) if compressed else bytes(rest[:cap])
        encoding = "utf-8"
    if keyword == _XMP_KEYWORD:
        blocks.xmp.append(raw)
    else:
        blocks.texts[keyword] = raw.decode(encoding, "replace")


def _inflate(compressed: memoryview, cap: int) -> bytes:
    """At most `cap` bytes out, however much the input would expand to."""
    try:
        return zlib.decompressobj().decompress(compressed, cap)
    except zlib.error:
        log.debug("a compressed PNG text chunk does not inflate")
        return b""


def _webp(data: memoryview, blocks: Blocks, deadline: float) -> None:
    end = min(len(data), 8 + int.from_bytes(data[4:8], "little"))
    pos, count = 12, 0
    while pos + 8 <= end:
        kind = bytes(data[pos : pos + 4])
        length = int.from_bytes(data[pos + 4 : pos + 8], "little")
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"EXIF" and length <= EXIF_CAP:
            blocks.exif.append(bytes(body))
        elif kind == b"XMP " and length <= XMP_CAP:
            blocks.xmp.append(bytes(body))
        elif kind == b"C2PA":
            blocks.c2pa = True
            blocks.manifest_bytes += length
        pos += 8 + length + (length & 1)
        count += 1
        if not _go_on(count, deadline, blocks):
            return


def _search(data: bytes, blocks: Blocks) -> None:
    """GIF, AVIF and HEIF keep metadata in structures not worth walking here: search instead.

    A false "c2pa" costs one look by the C2PA library, which then finds no manifest.
    """
    blocks.c2pa = b"c2pa" in data
    start = data.find(_XMP_START)
    if start >= 0:
        end = data.find(_XMP_END, start, start + XMP_CAP)
        if end >= 0:
            blocks.xmp.append(data[start : end + len(_XMP_END)])


def _go_on(count: int, deadline: float, blocks: Blocks) -> bool:
    if count >= MAX_CHUNKS or (count % _CHECK_EVERY == 0 and time.monotonic() > deadline):
        log.debug("stopped reading metadata after %d chunks (cap or deadline)", count)
        blocks.complete = False
        return False
    return True
