"""Pictures the bots' tests post: distinct small images, and tiny PNGs declaring huge ones."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def image_bytes(seed: int, fmt: str = "PNG", side: int = 48) -> bytes:
    """A small picture, different for each seed so the Detector's cache does not answer."""
    image = Image.new("RGB", (side, side), ((seed * 53) % 256, (seed * 97) % 256, 128))
    image.putpixel((seed % side, (seed // side) % side), (255, 255, 255))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def pixel_bomb(side: int = 20_000) -> bytes:
    """A 100-byte PNG whose header declares `side` x `side` pixels."""
    pixels = zlib.compress(b"\0" * 64)
    return PNG_SIGNATURE + _header(side) + _chunk(b"IDAT", pixels) + _chunk(b"IEND", b"")


def png_header_bomb(side: int = 60_000) -> bytes:
    """A well-formed PNG header announcing a huge image: a decompression bomb by its size."""
    return PNG_SIGNATURE + _header(side) + _chunk(b"IEND", b"")


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _header(side: int) -> bytes:
    return _chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))


def _chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body)
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)
