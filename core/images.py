"""Bytes from a stranger to a safe, upright RGB picture, or a typed refusal.

Uploads are hostile by default: the type comes from the bytes (never a file name or a MIME
label), only an allow-list of decoders is ever tried, and size limits are checked from the
header before a single pixel is decoded.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from typing import Final

import numpy as np
from PIL import Image, ImageOps

from config import ImageLimits
from core.errors import N_, CorruptImage, ImageTooLarge, UnsupportedImage

# Transparent pixels are composited on white: what chat clients show behind them.
BACKGROUND: Final = (255, 255, 255)

# Generic brands (mif1, msf1) say nothing about the codec; the specific ones decide.
_HEIF_BRANDS: Final = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis")
_AVIF_BRANDS: Final = (b"avif", b"avis")
_ALPHA_MODES: Final = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_DEEP_GREY_MODES: Final = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I"})
_MAGIC: Final = {
    b"\xff\xd8\xff": "JPEG",
    b"\x89PNG\r\n\x1a\n": "PNG",
    b"GIF87a": "GIF",
    b"GIF89a": "GIF",
}


def sniff_format(data: bytes) -> str | None:
    """Name the Pillow decoder for `data` from its magic bytes, or None if not allowed."""
    for magic, fmt in _MAGIC.items():
        if data.startswith(magic):
            return fmt
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[4:8] == b"ftyp":
        return _isobmff_format(data)
    return None


def _isobmff_format(data: bytes) -> str | None:
    """AVIF or HEIF from the `ftyp` box: the major brand first, then the compatible ones."""
    box_end = min(int.from_bytes(data[:4], "big"), len(data), 256)
    brands = [data[8:12]] + [data[i : i + 4] for i in range(16, box_end - 3, 4)]
    for brand in brands:
        if brand in _AVIF_BRANDS:
            return "AVIF"
        if brand in _HEIF_BRANDS:
            return "HEIF"
    return None


def _cut_short(data: bytes) -> bool:
    """Too short to name a format, but the start of an allowed one: an incomplete upload."""
    return len(data) < 12 and any(magic.startswith(data) for magic in (*_MAGIC, b"RIFF"))


def _decoder_available(fmt: str) -> bool:
    Image.init()
    return fmt in Image.OPEN


def decode_image(
    data: bytes, limits: ImageLimits, draft: tuple[int, int] | None = None
) -> Image.Image:
    """Decode `data` into a loaded RGB image, or raise an `InvalidImage` subclass.

    With `draft`, a JPEG is decoded at the smallest 1/2, 1/4 or 1/8 scale that keeps both sides
    at least that large: the DCT does the downscaling, several times faster than a full decode
    followed by a resize, at the cost of slightly different pixels (`ImageLimits.fast_decode`).
    """
    check_byte_size(len(data), limits)
    if not data:
        raise CorruptImage(N_("the file is empty"))
    fmt = sniff_format(data)
    if fmt is None and _cut_short(data):
        raise CorruptImage()
    if fmt is None or not _decoder_available(fmt):
        raise UnsupportedImage()
    return _decode_checked(data, fmt, limits, draft)


def check_byte_size(size: int, limits: ImageLimits) -> None:
    """Refuse an upload over the byte cap before anything reads (or hashes) it."""
    if size > limits.max_bytes:
        raise ImageTooLarge(
            N_("the file is too large (limit {limit})"), limit=bytes_text(limits.max_bytes)
        )


def bytes_text(size: int) -> str:
    """A byte count as a person reads it: 25 MB, 512 KB, 100 bytes."""
    if size >= 2**20:
        return f"{size / 2**20:.3g} MB"
    return f"{size // 1024} KB" if size >= 1024 else f"{size} bytes"


def refuse_decompression_bombs() -> None:
    """Make Pillow's bomb warning an error, process-wide (`catch_warnings` is not thread-safe).

    Pillow only warns between its own pixel limit and twice it; a bomb must be refused. The
    header check below refuses the same images anyway, so this is the second line of defence.
    """
    warnings.filterwarnings("error", category=Image.DecompressionBombWarning)


def _jpeg_complete(data: bytes) -> bool:
    """The end-of-image marker follows the last scan (markers cannot occur inside scan data).

    Pillow refuses a JPEG cut inside its scan, but one cut just before its end marker decodes
    or not depending on the last bytes of entropy-coded data; this makes every cut refused.
    Bytes after the marker (phone trailers, appended pictures) are left alone.
    """
    return data.rfind(b"\xff\xd9") > data.rfind(b"\xff\xda")


def _decode_checked(
    data: bytes, fmt: str, limits: ImageLimits, draft: tuple[int, int] | None
) -> Image.Image:
    if fmt == "JPEG" and not _jpeg_complete(data):
        raise CorruptImage()
    try:
        with Image.open(io.BytesIO(data), formats=[fmt]) as image:
            check_dimensions(image.size, limits)
            image.seek(0)  # an animation's first frame (the Decoder samples animations)
            if draft is not None and fmt == "JPEG":
                image.draft("RGB", draft)
            image.load()
            # In place: a copy of a 12 MP photo costs ~40 ms, and most photos need no turn.
            ImageOps.exif_transpose(image, in_place=True)
            return to_rgb(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageTooLarge(N_("the image has too many pixels")) from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, zlib.error):
        # Pillow's ways of saying "these bytes are not a whole, valid image" (its
        # UnidentifiedImageError is an OSError).
        raise CorruptImage() from None


TOO_LONG_A_SIDE: Final = N_("the image is too large ({width}x{height}; limit {side} px a side)")
TOO_MANY_PIXELS: Final = N_(
    "the image has too many pixels ({width}x{height}; limit {megapixels} MP)"
)


def check_dimensions(size: tuple[int, int], limits: ImageLimits) -> None:
    """Refuse from the header alone, before decoding allocates anything."""
    width, height = size
    if width < 1 or height < 1:
        raise CorruptImage()
    if max(width, height) > limits.max_side:
        raise ImageTooLarge(TOO_LONG_A_SIDE, width=width, height=height, side=limits.max_side)
    max_pixels = min(limits.max_pixels, Image.MAX_IMAGE_PIXELS or limits.max_pixels)
    if width * height > max_pixels:
        raise ImageTooLarge(
            TOO_MANY_PIXELS, width=width, height=height, megapixels=f"{max_pixels / 1e6:g}"
        )


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any decoded mode to 8-bit RGB the way a viewer would show it."""
    if image.mode in _DEEP_GREY_MODES:
        image = _deep_grey(image)
    if image.mode in _ALPHA_MODES or "transparency" in image.info:
        # Palette indices and tRNS colour keys become alpha on the way to RGBA.
        return _composite(image.convert("RGBA"))
    return image if image.mode == "RGB" else image.convert("RGB")


def _deep_grey(image: Image.Image) -> Image.Image:
    """16-bit grey to 8-bit, scaled: Pillow's own conversion clips at 255 (mostly white)."""
    array = np.asarray(image, dtype=np.float64)
    # "I;16" spans 0..65535; plain "I" (32-bit) names no range, so guess from the values.
    peak = 255.0 if image.mode == "I" and array.max(initial=0) <= 255 else 65535.0
    grey = np.clip(np.rint(array * (255.0 / peak)), 0, 255).astype(np.uint8)
    key = image.info.get("transparency")
    if isinstance(key, int):
        # The tRNS key names one exact 16-bit value; match it before scaling merges values.
        alpha = np.where(array == key, 0, 255).astype(np.uint8)
        return Image.fromarray(np.stack([grey, alpha], axis=-1))  # (h, w, 2) uint8 is "LA"
    return Image.fromarray(grey)


def _composite(rgba: Image.Image) -> Image.Image:
    background = Image.new("RGBA", rgba.size, (*BACKGROUND, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")
