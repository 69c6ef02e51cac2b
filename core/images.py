"""Bytes from a stranger to a safe, upright RGB picture, or a typed refusal.

Uploads are hostile by default: the type comes from the bytes (never a file name or a MIME
label), only an allow-list of decoders is ever tried, and size limits are checked from the
header before a single pixel is decoded.
"""

from __future__ import annotations

import io
import warnings
from typing import Final

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from config import ImageLimits
from core.errors import CorruptImage, ImageTooLarge, UnsupportedImage

# Transparent pixels are composited on white: what chat clients show behind them.
BACKGROUND: Final = (255, 255, 255)

_HEIF_BRANDS: Final = (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1")
_AVIF_BRANDS: Final = (b"avif", b"avis")
_ALPHA_MODES: Final = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_DEEP_GREY_MODES: Final = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I"})


def sniff_format(data: bytes) -> str | None:
    """Name the Pillow decoder for `data` from its magic bytes, or None if not allowed."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand in _AVIF_BRANDS:
            return "AVIF"
        if brand in _HEIF_BRANDS:
            return "HEIF"
    return None


def _decoder_available(fmt: str) -> bool:
    Image.init()
    return fmt in Image.OPEN


def decode_image(data: bytes, limits: ImageLimits) -> Image.Image:
    """Decode `data` into a loaded RGB image, or raise an `InvalidImage` subclass."""
    if len(data) > limits.max_bytes:
        raise ImageTooLarge(f"the file is too large (limit {limits.max_bytes // 2**20} MB)")
    fmt = sniff_format(data)
    if fmt is None or not _decoder_available(fmt):
        raise UnsupportedImage()
    return _decode_checked(data, fmt, limits)


def refuse_decompression_bombs() -> None:
    """Make Pillow's bomb warning an error, process-wide (`catch_warnings` is not thread-safe).

    Pillow only warns between its own pixel limit and twice it; a bomb must be refused. The
    header check below refuses the same images anyway, so this is the second line of defence.
    """
    warnings.filterwarnings("error", category=Image.DecompressionBombWarning)


def _decode_checked(data: bytes, fmt: str, limits: ImageLimits) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data), formats=[fmt])
        check_dimensions(image.size, limits)
        image.seek(0)  # animated images: the first frame, until frame sampling lands
        image.load()
        return to_rgb(ImageOps.exif_transpose(image))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageTooLarge("the image has too many pixels") from None
    except UnidentifiedImageError:
        raise CorruptImage() from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError):
        raise CorruptImage() from None


def check_dimensions(size: tuple[int, int], limits: ImageLimits) -> None:
    """Refuse from the header alone, before decoding allocates anything."""
    width, height = size
    if width < 1 or height < 1:
        raise CorruptImage()
    if max(width, height) > limits.max_side:
        raise ImageTooLarge(
            f"the image is too large ({width}x{height}; limit {limits.max_side} px a side)"
        )
    max_pixels = min(limits.max_pixels, Image.MAX_IMAGE_PIXELS or limits.max_pixels)
    if width * height > max_pixels:
        megapixels = max_pixels / 1e6
        raise ImageTooLarge(
            f"the image has too many pixels ({width}x{height}; limit {megapixels:g} MP)"
        )


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any decoded mode to 8-bit RGB the way a viewer would show it."""
    if image.mode == "RGB":
        return image
    if image.mode in _DEEP_GREY_MODES:
        return _deep_grey_to_rgb(image)
    if image.mode in _ALPHA_MODES or (image.mode == "P" and "transparency" in image.info):
        return _composite(image.convert("RGBA"))
    return image.convert("RGB")


def _deep_grey_to_rgb(image: Image.Image) -> Image.Image:
    # Pillow's own conversion clips 16-bit values at 255, which turns most pictures white.
    array = np.asarray(image, dtype=np.float64)
    peak = 65535.0 if array.max(initial=0) > 255 else 255.0
    grey = np.clip(np.rint(array * (255.0 / peak)), 0, 255).astype(np.uint8)
    return Image.fromarray(grey).convert("RGB")


def _composite(rgba: Image.Image) -> Image.Image:
    background = Image.new("RGBA", rgba.size, (*BACKGROUND, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")
