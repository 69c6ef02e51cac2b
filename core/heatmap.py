"""The picture of an explanation: the image with its patch map laid over it, and a legend.

The map is scaled by its largest magnitude, so zero stays zero: AI-leaning patches turn warm,
real-leaning ones cool, and patches that weigh little leave the photo as it is (mostly grey,
so that its own colours are not read as the map's). It is upsampled
smoothly (bicubic) from the patch grid onto the part of the picture the model was shown. The
image's long side is at most 1024 px (small images are enlarged so the legend stays readable),
and a strip under it shows the colour scale and the legend's words, which the caller supplies
(`bots.replies` holds the wording). Deterministic: the same map gives the same bytes.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from core.explain import PatchMap

# The legend of the API's pictures (the bots word theirs in `bots.replies`).
LEGEND: Final = (
    "Where the model saw AI-like (warm) and real-like (cool) evidence. "
    "It shows where the model looked, not which parts are fake."
)
MAX_SIDE: Final = 1024
MIN_SIDE: Final = 512  # smaller images are enlarged to this long side
MIN_WIDTH: Final = 360  # narrower pictures are centred on a canvas this wide, for the legend
OPACITY: Final = 0.7  # of the colour where the map is at its strongest
GREYING: Final = 0.8  # how far the photo is turned grey, so its own colours do not read as map
BACKGROUND: Final = (255, 255, 255)
INK: Final = (32, 32, 32)

# Moreland's cool-warm diverging map: blue (-1), grey (0), red (+1).
_STOPS: Final = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
_COLOURS: Final = np.array(
    [[59, 76, 192], [124, 159, 249], [221, 221, 221], [244, 154, 123], [180, 4, 38]],
    dtype=np.float32,
)


@dataclass(frozen=True, slots=True)
class Backdrop:
    """The picture before its map is known (made while the model runs): never drawn on."""

    canvas: Image.Image  # the photo, fitted and mostly grey, above the legend strip
    photo: tuple[int, int, int, int]  # where the photo lies on it: left, top, right, bottom


def encode_png(image: Image.Image) -> bytes:
    """An RGB image as PNG: every row "Up"-filtered, then Huffman-coded (deflate, level 1).

    Pillow's encoder tries five filters on every row: ~50 ms for a 1024x768 picture, where this
    takes ~15 ms for ~5 % more bytes (docs/benchmarks.md).
    """
    pixels = np.asarray(image if image.mode == "RGB" else image.convert("RGB"), dtype=np.uint8)
    height, width = pixels.shape[:2]
    flat = pixels.reshape(height, width * 3)
    rows = np.empty((height, 1 + width * 3), dtype=np.uint8)
    rows[:, 0] = 2  # the Up filter: each byte minus the one above it, modulo 256
    rows[0, 1:] = flat[0]
    rows[1:, 1:] = flat[1:] - flat[:-1]  # uint8 arithmetic wraps, as the filter does
    deflate = zlib.compressobj(1, zlib.DEFLATED, 15, 9, zlib.Z_HUFFMAN_ONLY)
    data = deflate.compress(rows.data) + deflate.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", data)
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def explanation_png(picture: Image.Image, patches: PatchMap, legend: str) -> bytes:
    """`draw` encoded as PNG."""
    return painted_png(backdrop(picture, legend), patches)


def draw(picture: Image.Image, patches: PatchMap, legend: str) -> Image.Image:
    """The picture (RGB) with the map blended in and a legend strip under it."""
    return paint(backdrop(picture, legend), patches)


def backdrop(picture: Image.Image, legend: str) -> Backdrop:
    """The picture `fit` and greyed, above its legend strip."""
    photo = fit(picture)
    grey = Image.blend(photo, photo.convert("L").convert("RGB"), GREYING)
    strip = _legend(max(photo.width, MIN_WIDTH), legend)
    canvas = Image.new("RGB", (strip.width, photo.height + strip.height), BACKGROUND)
    left = (strip.width - photo.width) // 2
    canvas.paste(grey, (left, 0))
    canvas.paste(strip, (0, photo.height))
    return Backdrop(canvas, (left, 0, left + photo.width, photo.height))


def painted_png(ground: Backdrop, patches: PatchMap) -> bytes:
    """`paint` encoded as PNG."""
    return encode_png(paint(ground, patches))


def paint(ground: Backdrop, patches: PatchMap) -> Image.Image:
    """The map blended into a copy of the backdrop's photo."""
    left, top, right, bottom = ground.photo
    # 256 levels of the map through a palette: Pillow blends in C, ~10x faster than float maths.
    levels = _levels(patches, (right - left, bottom - top))
    colours = Image.frombytes("P", levels.size, levels.tobytes())
    colours.putpalette(_PALETTE)
    canvas = ground.canvas.copy()
    canvas.paste(colours.convert("RGB"), (left, top), mask=levels.point(_OPACITIES))
    return canvas


def fit(picture: Image.Image) -> Image.Image:
    """RGB with the long side at most MAX_SIDE and at least MIN_SIDE, the aspect kept."""
    rgb = picture if picture.mode == "RGB" else picture.convert("RGB")
    long_side = max(rgb.size)
    target = min(MAX_SIDE, max(MIN_SIDE, long_side))
    if target == long_side:
        return rgb
    scale = target / long_side
    size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
    if scale < 1:
        # Shrinking by a whole factor first (box filter) halves the time on 12 MP photos.
        return rgb.resize(size, Image.Resampling.BILINEAR, reducing_gap=1.0)
    return rgb.resize(size, Image.Resampling.BICUBIC)


def diverging(values: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Colours (..., 3) in 0..255 for values in -1..1: cool below zero, warm above."""
    flat = np.clip(values, -1.0, 1.0).reshape(-1)
    channels = [np.interp(flat, _STOPS, _COLOURS[:, c]) for c in range(3)]
    return np.stack(channels, axis=-1).astype(np.float32).reshape(*values.shape, 3)


def _level_values() -> npt.NDArray[np.float32]:
    """The map value each of the 256 levels stands for: level 128 is zero."""
    return ((np.arange(256, dtype=np.float32) - 128) / 127).clip(-1, 1)


_PALETTE: Final = np.rint(diverging(_level_values())).astype(np.uint8).reshape(-1).tolist()
_OPACITIES: Final = np.rint(255 * OPACITY * np.abs(_level_values())).astype(int).tolist()


def _levels(patches: PatchMap, size: tuple[int, int]) -> Image.Image:
    """The map as levels (128 is zero) at `size`: smooth, and zero outside what the model saw."""
    width, height = size
    peak = float(np.abs(patches.grid).max(initial=0.0))
    scaled = (patches.grid / peak if peak > 0 else patches.grid).astype(np.float32)
    left, top, right, bottom = patches.box
    x0, y0 = round(left * width), round(top * height)
    x1, y1 = max(x0 + 1, round(right * width)), max(y0 + 1, round(bottom * height))
    smooth = np.asarray(
        Image.fromarray(scaled).resize((x1 - x0, y1 - y0), Image.Resampling.BICUBIC)
    )
    levels = np.full((height, width), 128, dtype=np.uint8)
    levels[y0:y1, x0:x1] = np.rint(128 + 127 * smooth.clip(-1.0, 1.0)).astype(np.uint8)
    return Image.fromarray(levels)


def _legend(width: int, text: str) -> Image.Image:
    """A strip `width` wide: the colour scale from cool to warm, then the words, wrapped."""
    size = min(22, max(12, width // 48))
    font = ImageFont.load_default(size=size)
    pad = size // 2
    bar_width = min(width // 4, 8 * size)
    room = width - bar_width - 3 * pad
    lines = _wrap(text, font, room)
    line_height = size + size // 3
    height = 2 * pad + max(size, line_height * len(lines))
    strip = Image.new("RGB", (width, height), BACKGROUND)
    ramp = diverging(np.linspace(-1.0, 1.0, bar_width, dtype=np.float32))
    bar = np.broadcast_to(ramp[None], (size, bar_width, 3))
    strip.paste(Image.fromarray(np.rint(bar).astype(np.uint8)), (pad, (height - size) // 2))
    pen = ImageDraw.Draw(strip)
    top = (height - line_height * len(lines)) // 2
    for index, line in enumerate(lines):
        pen.text((bar_width + 2 * pad, top + index * line_height), line, fill=INK, font=font)
    return strip


def _wrap(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, room: int) -> list[str]:
    """Words filled into lines that fit `room` pixels; a longer word gets a line of its own."""
    lines: list[str] = []
    for word in text.split():
        joined = f"{lines[-1]} {word}" if lines else word
        if lines and font.getlength(joined) <= room:
            lines[-1] = joined
        else:
            lines.append(word)
    return lines or [""]
