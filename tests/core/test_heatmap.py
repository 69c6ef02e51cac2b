"""The picture: size and aspect, warm for AI-like and cool for real-like, a legend, determinism."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from core.explain import Method, PatchMap
from core.heatmap import MIN_WIDTH, diverging, draw, encode_png, explanation_png, fit

LEGEND = "Where the model saw AI-like (warm) and real-like (cool) evidence."
GREY = (128, 128, 128)


def _halves(rows: int = 14, cols: int = 14) -> PatchMap:
    """AI-like on the left half, real-like on the right."""
    grid = np.ones((rows, cols))
    grid[:, cols // 2 :] = -1.0
    return PatchMap(grid, 0.0, Method.EXACT)


def _noise(size: tuple[int, int], seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


class TestSize:
    @pytest.mark.parametrize(
        ("size", "fitted"),
        [
            ((3000, 2000), (1024, 683)),
            ((1200, 1800), (683, 1024)),
            ((640, 480), (640, 480)),
            ((100, 50), (512, 256)),
            ((60, 200), (154, 512)),
        ],
    )
    def test_long_side_at_most_1024_and_aspect_kept(
        self, size: tuple[int, int], fitted: tuple[int, int]
    ) -> None:
        """Large pictures shrink to 1024 px, small ones grow to 512: the aspect stays."""
        assert fit(_noise(size)).size == fitted
        picture = Image.open(io.BytesIO(explanation_png(_noise(size), _halves(), LEGEND)))
        assert picture.format == "PNG"
        assert picture.width == max(fitted[0], MIN_WIDTH)
        assert picture.height > fitted[1]  # the legend strip goes under the picture

    def test_picture_sits_above_its_legend(self) -> None:
        """The top of the output is the picture itself, at its fitted size."""
        photo = Image.new("RGB", (800, 600), GREY)
        out = draw(photo, PatchMap(np.zeros((14, 14)), 0.0, Method.EXACT), LEGEND)
        top = np.asarray(out)[:600]
        assert (top == GREY).all()  # a map of zeros leaves the (grey) photo untouched
        assert out.width == 800


class TestColours:
    def test_ai_like_is_warm_and_real_like_is_cool(self) -> None:
        """Positive patches tint red, negative ones blue, centred at zero."""
        out = np.asarray(draw(Image.new("RGB", (700, 700), GREY), _halves(), LEGEND), dtype=int)
        left, right = out[350, 100], out[350, 600]
        assert left[0] > left[2] + 60  # red over blue
        assert right[2] > right[0] + 60  # blue over red
        assert np.abs(out[350, 349] - out[350, 350]).max() < 40  # smooth, not a step

    def test_strength_follows_the_largest_magnitude(self) -> None:
        """Scaled by the peak: a weaker patch gets a fainter tint, zero none at all."""
        grid = np.zeros((2, 3))
        grid[0, 0], grid[0, 2] = 4.0, 1.0
        out = np.asarray(
            draw(Image.new("RGB", (600, 400), GREY), PatchMap(grid, 0.0, Method.EXACT), LEGEND),
            dtype=int,
        )
        strong, weak, none = out[100, 100], out[100, 500], out[300, 300]
        assert strong[0] - strong[2] > weak[0] - weak[2] > 0
        assert abs(none[0] - none[2]) < 8

    def test_the_map_lies_only_on_the_part_the_model_saw(self) -> None:
        """A cropping processor's box: outside it, the photo is left alone."""
        patches = PatchMap(np.ones((4, 4)), 0.0, Method.GRADIENT, box=(0.5, 0.0, 1.0, 1.0))
        out = np.asarray(draw(Image.new("RGB", (800, 600), GREY), patches, LEGEND))
        assert (out[:600, :390] == GREY).all()
        assert out[300, 700, 0] > out[300, 700, 2] + 60

    def test_diverging_map_is_centred(self) -> None:
        """-1 is blue, 0 grey, +1 red, and the two sides mirror each other's strength."""
        cool, middle, warm = diverging(np.array([-1.0, 0.0, 1.0], dtype=np.float32))
        assert cool[2] > cool[0]
        assert warm[0] > warm[2]
        assert middle[0] == middle[1] == middle[2]


class TestLegend:
    def test_strip_shows_the_scale_and_the_words(self) -> None:
        """Under the picture: a cool-to-warm bar and dark text on white."""
        out = draw(Image.new("RGB", (800, 600), GREY), _halves(), LEGEND)
        strip = np.asarray(out, dtype=int)[600:]
        middle = strip.shape[0] // 2
        bar = strip[middle, :200]
        coloured = np.flatnonzero(np.abs(bar[:, 0] - bar[:, 2]) > 50)
        assert bar[coloured[0], 2] > bar[coloured[0], 0]  # starts cool
        assert bar[coloured[-1], 0] > bar[coloured[-1], 2]  # ends warm
        assert (strip[:, 250:].sum(axis=-1) < 200).sum() > 200  # text

    def test_words_wrap_on_a_narrow_picture(self) -> None:
        """A narrow canvas wraps the legend onto more lines: a taller strip, same width."""
        wide = draw(Image.new("RGB", (1000, 500), GREY), _halves(), LEGEND)
        narrow = draw(Image.new("RGB", (250, 500), GREY), _halves(), LEGEND)
        assert narrow.width == MIN_WIDTH
        assert narrow.height - 500 > wide.height - 500


def test_same_map_same_bytes() -> None:
    """Deterministic: drawing the same map on the same picture twice gives identical PNGs."""
    photo = _noise((900, 700), seed=5)
    patches = PatchMap(np.random.default_rng(1).normal(size=(14, 14)), 0.2, Method.EXACT)
    assert explanation_png(photo, patches, LEGEND) == explanation_png(photo, patches, LEGEND)


@pytest.mark.parametrize("size", [(1, 1), (7, 3), (1024, 768)])
def test_png_is_lossless(size: tuple[int, int]) -> None:
    """The PNG passes Pillow's checks (CRCs) and decodes to exactly the pixels drawn."""
    picture = _noise(size, seed=size[0])
    with Image.open(io.BytesIO(encode_png(picture))) as checked:
        checked.verify()
    with Image.open(io.BytesIO(encode_png(picture))) as decoded:
        decoded.load()
        assert (decoded.format, decoded.mode, decoded.size) == ("PNG", "RGB", size)
        assert np.array_equal(np.asarray(decoded), np.asarray(picture))
