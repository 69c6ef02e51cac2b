"""Hostile and awkward uploads: every refusal class, and every conversion to upright RGB.

All files are crafted here from bytes or with Pillow; none is committed.
"""

from __future__ import annotations

import io
import re
import struct
import warnings
import zlib
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image, features

from config import ImageLimits
from core.errors import CorruptImage, ImageTooLarge, InvalidImage, UnsupportedImage
from core.images import BACKGROUND, decode_image, refuse_decompression_bombs

LIMITS = ImageLimits()
needs_avif = pytest.mark.skipif(not features.check("avif"), reason="Pillow built without AVIF")
RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), BACKGROUND


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares its size in a valid IHDR but holds no pixel data at all.

    Decoding it would fail as corrupt, so a size refusal proves the check came first.
    """
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b""))
        + png_chunk(b"IEND", b"")
    )


def refusal(data: bytes, limits: ImageLimits = LIMITS) -> InvalidImage:
    with pytest.raises(InvalidImage) as caught:
        decode_image(data, limits)
    return caught.value


def assert_user_safe(error: Exception) -> None:
    """Short, one line, plain words: nothing about Pillow, paths or exception internals."""
    text = str(error)
    assert text == getattr(error, "message", None)
    assert 10 <= len(text) <= 100
    assert text.isprintable()
    assert not re.search(r"PIL|Pillow|Error|Traceback|/|\\|errno|\b0x", text)


def pixel(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    value = image.getpixel(xy)
    assert isinstance(value, tuple)
    return value


def near(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


@pytest.fixture(scope="module")
def huge_png() -> bytes:
    """A real 12000x12000 PNG (144 MP: under Pillow's bomb error limit, over our 40 MP)."""
    return encode(Image.new("1", (12_000, 12_000)), "PNG", compress_level=1)


class TestTooLarge:
    def test_header_declaring_20000_square_is_refused(self) -> None:
        """A tiny PNG whose header claims 20000x20000 is refused as too large."""
        error = refusal(png_header_only(20_000, 20_000))
        assert isinstance(error, ImageTooLarge)
        assert_user_safe(error)

    def test_real_12000_square_png_is_refused_before_decoding(self, huge_png: bytes) -> None:
        """A real 144 MP PNG is refused as too large, and so is the same file cut short."""
        assert isinstance(refusal(huge_png), ImageTooLarge)
        truncated = huge_png[: len(huge_png) // 2]
        assert isinstance(refusal(truncated), ImageTooLarge)  # not CorruptImage: never decoded

    def test_our_pixel_cap_applies_below_pillows_limit(self) -> None:
        """42 MP (under Pillow's own limit) is over the 40 MP cap, refused from the header."""
        error = refusal(png_header_only(7_000, 6_000))
        assert isinstance(error, ImageTooLarge)
        assert "40 MP" in str(error)
        assert_user_safe(error)

    def test_configured_pixel_cap_is_used(self) -> None:
        """A lower configured pixel cap refuses images the default would take."""
        data = encode(Image.new("RGB", (100, 100)), "PNG")
        assert decode_image(data, LIMITS).size == (100, 100)
        assert isinstance(refusal(data, ImageLimits(max_pixels=9_999)), ImageTooLarge)

    def test_side_cap(self) -> None:
        """A 50000x10 strip has few pixels but is refused for its side length."""
        error = refusal(encode(Image.new("L", (50_000, 10)), "PNG"))
        assert isinstance(error, ImageTooLarge)
        assert "a side" in str(error)
        assert_user_safe(error)

    def test_byte_cap(self) -> None:
        """A file over the byte cap is refused before anything looks at its content."""
        data = encode(Image.new("RGB", (64, 64)), "PNG")
        error = refusal(data, ImageLimits(max_bytes=len(data) - 1))
        assert isinstance(error, ImageTooLarge)
        assert_user_safe(error)

    @pytest.mark.parametrize("size", [(10_000, 10_000), (20_000, 20_000)])
    def test_pillow_bomb_check_holds_when_our_cap_is_raised(self, size: tuple[int, int]) -> None:
        """Raising max_pixels above Pillow's limit still refuses its bombs as ImageTooLarge.

        Warnings are set up as in production (shown, not raised) plus the Detector's filter,
        so the refusal cannot come from pytest's own "error" filter.
        """
        limits = ImageLimits(max_pixels=10**9, max_side=10**6)
        with warnings.catch_warnings(record=True) as shown:
            warnings.simplefilter("always")
            refuse_decompression_bombs()
            error = refusal(png_header_only(*size), limits)
        assert isinstance(error, ImageTooLarge)
        assert_user_safe(error)
        assert not [w for w in shown if issubclass(w.category, Image.DecompressionBombWarning)]


def jpeg_bytes() -> bytes:
    noise = Image.effect_noise((128, 96), 60).convert("RGB")
    return encode(noise, "JPEG", quality=90)


class TestCorrupt:
    @pytest.mark.parametrize("keep", [0.5, 0.9, -2], ids=["half", "most", "no-end-marker"])
    def test_truncated_jpeg_is_refused_not_grey_filled(self, keep: float) -> None:
        """A JPEG cut short is refused as corrupt instead of being padded with grey."""
        data = jpeg_bytes()
        cut = int(len(data) * keep) if keep > 0 else len(data) + int(keep)
        error = refusal(data[:cut])
        assert isinstance(error, CorruptImage)
        assert_user_safe(error)

    def test_bytes_after_the_end_marker_are_accepted(self) -> None:
        """Trailers some phones append after a JPEG's end marker do not make it corrupt."""
        data = encode(Image.effect_noise((64, 48), 60).convert("RGB"), "JPEG", progressive=True)
        image = decode_image(data + b"SEFH phone trailer SEFT", ImageLimits())
        assert image.size == (64, 48)

    def test_truncated_png_is_refused(self) -> None:
        """A PNG cut inside its pixel data is refused as corrupt."""
        data = encode(Image.effect_noise((64, 64), 60), "PNG")
        assert isinstance(refusal(data[: len(data) // 2]), CorruptImage)

    def test_garbage_after_a_valid_signature_is_refused(self) -> None:
        """Right magic bytes followed by junk is corrupt, not a crash."""
        assert isinstance(refusal(b"\x89PNG\r\n\x1a\n" + b"\x00junk" * 20), CorruptImage)
        assert isinstance(refusal(b"\xff\xd8\xff\xe0" + b"\x00" * 40), CorruptImage)

    def test_zero_size_header_is_refused(self) -> None:
        """An image that declares no pixels is corrupt."""
        assert isinstance(refusal(png_header_only(0, 10)), CorruptImage)

    @pytest.mark.parametrize(
        ("data", "kind"),
        [
            (b"", CorruptImage),
            (b"\xff", CorruptImage),
            (b"\xff\xd8", CorruptImage),
            (b"\x89P", CorruptImage),
            (b"x", UnsupportedImage),
            (b"hi", UnsupportedImage),
        ],
        ids=["empty", "1-byte-jpeg", "2-byte-jpeg", "2-byte-png", "1-byte", "2-byte"],
    )
    def test_tiny_files(self, data: bytes, kind: type[InvalidImage]) -> None:
        """0, 1 and 2-byte files are refused: the start of a known format as cut short."""
        error = refusal(data)
        assert type(error) is kind
        assert_user_safe(error)


SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>'
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 9 9\nshowpage\n%%EOF\n"
EPS_BINARY = b"\xc5\xd0\xd3\xc6" + b"\x00" * 28 + EPS  # DOS EPS header, which Pillow also reads


def pillow_made(fmt: str) -> Callable[[], bytes]:
    return lambda: encode(Image.new("RGB", (16, 16), RED), fmt)


class TestUnsupported:
    @pytest.mark.parametrize(
        "make",
        [
            lambda: SVG,
            lambda: b"<svg xmlns='http://www.w3.org/2000/svg'/>",
            lambda: PDF,
            lambda: EPS,
            lambda: EPS_BINARY,
            pillow_made("TIFF"),
            pillow_made("BMP"),
            pillow_made("ICO"),
            pillow_made("PPM"),
            pillow_made("JPEG2000"),
            lambda: b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic",  # no HEIF plugin here
        ],
        ids=[
            "svg",
            "bare-svg",
            "pdf",
            "eps",
            "eps-binary",
            "tiff",
            "bmp",
            "ico",
            "ppm",
            "jp2",
            "heic",
        ],
    )
    def test_formats_off_the_allow_list(self, make: Callable[[], bytes]) -> None:
        """Whatever the file was called, bytes of a format not on the allow-list are refused."""
        error = refusal(make())
        assert isinstance(error, UnsupportedImage)
        assert_user_safe(error)


def decoded(data: bytes) -> Image.Image:
    image = decode_image(data, LIMITS)
    assert image.mode == "RGB"
    return image


class TestAllowedFormats:
    @pytest.mark.parametrize("fmt", ["PNG", "GIF", "WEBP"])
    def test_lossless_formats_keep_their_pixels(self, fmt: str) -> None:
        """PNG, GIF and lossless WebP decode to the exact colours that were saved."""
        image = Image.new("RGB", (10, 6), RED)
        image.paste(BLUE, (5, 0, 10, 6))
        options = {"lossless": True} if fmt == "WEBP" else {}
        out = decoded(encode(image, fmt, **options))
        assert out.size == (10, 6)
        assert pixel(out, (1, 1)) == RED
        assert pixel(out, (8, 1)) == BLUE

    @pytest.mark.parametrize("fmt", ["JPEG", "WEBP", pytest.param("AVIF", marks=needs_avif)])
    def test_lossy_formats(self, fmt: str) -> None:
        """JPEG, lossy WebP and AVIF (Pillow's own plugin) decode to about the saved colour."""
        out = decoded(encode(Image.new("RGB", (32, 32), (200, 40, 90)), fmt, quality=95))
        assert out.size == (32, 32)
        assert near(pixel(out, (16, 16)), (200, 40, 90))

    def test_cmyk_jpeg(self) -> None:
        """A CMYK JPEG becomes the RGB picture it shows (cyan stays cyan, not inverted)."""
        cmyk = Image.new("CMYK", (16, 8), (0, 255, 255, 0))  # red
        cmyk.paste((255, 0, 0, 0), (8, 0, 16, 8))  # cyan
        out = decoded(encode(cmyk, "JPEG", quality=95))
        assert near(pixel(out, (2, 4)), RED)
        assert near(pixel(out, (13, 4)), (0, 255, 255))

    def test_16_bit_grey_is_scaled_not_clipped(self) -> None:
        """16-bit grey maps 0..65535 onto 0..255 instead of clipping everything bright to white."""
        values = np.array([[0, 16_384, 32_768, 65_535]], dtype=np.uint16)
        source = Image.fromarray(values)
        assert source.mode == "I;16"
        out = decoded(encode(source, "PNG"))
        assert [pixel(out, (x, 0)) for x in range(4)] == [
            (0, 0, 0),
            (64, 64, 64),
            (128, 128, 128),
            (255, 255, 255),
        ]

    def test_dark_16_bit_grey_stays_dark(self) -> None:
        """A 16-bit picture whose values are all small is near black, not stretched to white."""
        values = np.full((4, 4), 200, dtype=np.uint16)  # 200 of 65535
        out = decoded(encode(Image.fromarray(values), "PNG"))
        assert pixel(out, (0, 0)) == (1, 1, 1)

    def test_first_frame_of_animations(self) -> None:
        """Animated GIF, WebP and PNG are judged on their first frame."""
        frames = [Image.new("RGB", (8, 8), RED), Image.new("RGB", (8, 8), BLUE)]
        for fmt, options in [("GIF", {}), ("WEBP", {"lossless": True}), ("PNG", {})]:
            data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], **options)
            assert pixel(decoded(data), (4, 4)) == RED, fmt

    def test_exif_orientation_is_applied(self) -> None:
        """Orientation 6 (turn 90 degrees clockwise) swaps the sides and turns the pixels."""
        stored = Image.new("RGB", (40, 20), RED)
        stored.paste(BLUE, (20, 0, 40, 20))  # left red, right blue as stored
        exif = Image.Exif()
        exif[0x0112] = 6
        out = decoded(encode(stored, "JPEG", quality=95, exif=exif.tobytes()))
        assert out.size == (20, 40)
        assert near(pixel(out, (10, 5)), RED)  # the stored left is now the top
        assert near(pixel(out, (10, 34)), BLUE)
        assert out.getexif().get(0x0112) in (None, 1)  # nothing downstream turns it again


class TestTransparency:
    """Transparent pixels are composited on white, as chat clients show them."""

    def test_rgba(self) -> None:
        """In RGBA a clear pixel becomes white, an opaque one keeps its colour, half is mixed."""
        image = Image.new("RGBA", (3, 1), (*RED, 255))
        image.putpixel((1, 0), (*BLUE, 0))
        image.putpixel((2, 0), (0, 0, 0, 128))
        out = decoded(encode(image, "PNG"))
        assert pixel(out, (0, 0)) == RED
        assert pixel(out, (1, 0)) == WHITE
        assert near(pixel(out, (2, 0)), (127, 127, 127), tolerance=1)

    def test_la(self) -> None:
        """Grey with alpha: clear becomes white, opaque grey stays grey."""
        image = Image.new("LA", (2, 1), (60, 255))
        image.putpixel((1, 0), (0, 0))
        out = decoded(encode(image, "PNG"))
        assert pixel(out, (0, 0)) == (60, 60, 60)
        assert pixel(out, (1, 0)) == WHITE

    @pytest.mark.parametrize("fmt", ["GIF", "PNG"])
    def test_palette_with_transparent_index(self, fmt: str) -> None:
        """A palette image's transparent index becomes white; other indices keep their colour."""
        image = Image.new("P", (2, 1), 1)
        image.putpalette([0, 0, 0, *RED, *BLUE] + [0] * (256 * 3 - 9))
        image.putpixel((1, 0), 2)
        image.info["transparency"] = 2
        out = decoded(encode(image, fmt, transparency=2))
        assert pixel(out, (0, 0)) == RED
        assert pixel(out, (1, 0)) == WHITE

    @pytest.mark.parametrize(
        ("mode", "key", "kept"),
        [("L", 10, (200, 200, 200)), ("RGB", (1, 2, 3), (200, 0, 0))],
    )
    def test_colour_key_transparency(
        self, mode: str, key: int | tuple[int, ...], kept: tuple[int, ...]
    ) -> None:
        """PNG's tRNS colour key in grey or RGB images makes the keyed colour white."""
        image = Image.new(mode, (2, 1), key)
        image.putpixel((0, 0), kept[0] if mode == "L" else kept)
        out = decoded(encode(image, "PNG", transparency=key))
        assert pixel(out, (0, 0)) == kept
        assert pixel(out, (1, 0)) == WHITE

    def test_16_bit_colour_key_matches_one_exact_value(self) -> None:
        """A 16-bit tRNS key clears only that value, not its neighbours that scale alike."""
        values = np.array([[0, 1_000, 1_001, 65_535]], dtype=np.uint16)
        out = decoded(encode(Image.fromarray(values), "PNG", transparency=1_000))
        assert [pixel(out, (x, 0)) for x in range(4)] == [(0, 0, 0), WHITE, (4, 4, 4), WHITE]


class TestSniffing:
    @needs_avif
    def test_avif_named_by_a_compatible_brand(self) -> None:
        """An AVIF whose major brand is the generic mif1 is still recognised by its brands."""
        data = bytearray(encode(Image.new("RGB", (16, 16), RED), "AVIF"))
        assert data[8:12] == b"avif"
        data[8:12] = b"mif1"  # major brand generic; "avif" stays among the compatible brands
        assert near(pixel(decoded(bytes(data)), (8, 8)), RED)
