"""`fast_decode`: JPEG draft decoding to at least twice the model's input, and what it changes."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from config import ImageLimits, ModelSettings, QueueSettings
from core.classifier import HFClassifier
from core.detector import Detector
from core.images import decode_image
from core.preprocess import ModelInputs
from core.result import Scores
from tests.tiny_model import build_model_dir

PHOTO = (2400, 1800)  # draft picks 1/4 for a 448 px target: 600x450
DRAFT = (448, 448)  # twice the 224 px input of the model below
# Measured over the four photos below (model units span [-1, 1]; |p| is the fake probability):
# pixels mean 0.002, max 0.063; |p_fast - p_exact| max 0.0015 on the tiny random model.
PIXEL_MEAN_BOUND = 0.02
PROBABILITY_BOUND = 0.01


def _photo_jpeg(seed: int, size: tuple[int, int] = PHOTO, **save: object) -> bytes:
    """Smooth colour fields, hard-edged shapes and sensor-like noise, saved as a q90 JPEG."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(4, 5, 3), dtype=np.uint8)
    image = Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x0, x1 = sorted(int(v) for v in rng.integers(0, size[0], 2))
        y0, y1 = sorted(int(v) for v in rng.integers(0, size[1], 2))
        draw.rectangle((x0, y0, x1, y1), fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
    noisy = np.asarray(image, dtype=np.int16) + rng.normal(0, 6, (size[1], size[0], 3))
    out = io.BytesIO()
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(
        out, "JPEG", **{"quality": 90, **save}
    )
    return out.getvalue()


@pytest.fixture(scope="module")
def photos() -> list[bytes]:
    return [_photo_jpeg(seed) for seed in range(4)]


@pytest.fixture(scope="module")
def wide(tmp_path_factory: pytest.TempPathFactory) -> HFClassifier:
    """A tiny model with the real 224 px input, so the draft scale is the one photos get."""
    folder = build_model_dir(
        tmp_path_factory.mktemp("wide"), vision={"image_size": 224, "patch_size": 16}
    )
    return HFClassifier.load(ModelSettings(name=str(folder), offline=True, threads=1))


class _Recording:
    """The classifier, noting the size of each decoded image it is asked to prepare."""

    def __init__(self, inner: HFClassifier) -> None:
        self._inner = inner
        self.sizes: list[tuple[int, int]] = []

    @property
    def input_size(self) -> tuple[int, int] | None:
        return self._inner.input_size

    def prepare(self, image: Image.Image) -> ModelInputs:
        self.sizes.append(image.size)
        return self._inner.prepare(image)

    def predict(self, batch: Sequence[ModelInputs]) -> list[Scores]:
        return self._inner.predict(batch)


def test_draft_decodes_at_the_smallest_scale_above_the_target(photos: list[bytes]) -> None:
    """A 2400x1800 JPEG drafted for 448 px decodes at 1/4 (600x450), never below the target."""
    full = decode_image(photos[0], ImageLimits())
    fast = decode_image(photos[0], ImageLimits(), DRAFT)
    assert full.size == PHOTO
    assert fast.size == (600, 450)
    assert fast.mode == "RGB"


def test_draft_keeps_small_jpegs_whole() -> None:
    """A JPEG already near the target size is decoded in full: exact pixels."""
    data = _photo_jpeg(9, (640, 480))
    full = np.asarray(decode_image(data, ImageLimits()))
    fast = np.asarray(decode_image(data, ImageLimits(), DRAFT))
    np.testing.assert_array_equal(fast, full)


def test_draft_leaves_other_formats_alone(tmp_path: Path) -> None:
    """A PNG has no draft mode: the same pixels either way."""
    image = Image.open(io.BytesIO(_photo_jpeg(5, (1200, 900)))).convert("RGB")
    png = io.BytesIO()
    image.save(png, "PNG")
    full = np.asarray(decode_image(png.getvalue(), ImageLimits()))
    fast = np.asarray(decode_image(png.getvalue(), ImageLimits(), DRAFT))
    np.testing.assert_array_equal(fast, full)


def test_draft_still_turns_photos_upright() -> None:
    """EXIF orientation is applied after the reduced decode (6: turned a quarter)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    data = _photo_jpeg(3, exif=exif.tobytes())
    assert decode_image(data, ImageLimits(), DRAFT).size == (450, 600)


def test_pixel_and_probability_deviation_is_bounded(
    photos: list[bytes], wide: HFClassifier
) -> None:
    """Draft decoding moves model inputs and fake probabilities by less than the bounds."""
    exact = [wide.prepare(decode_image(data, ImageLimits())) for data in photos]
    fast = [wide.prepare(decode_image(data, ImageLimits(), DRAFT)) for data in photos]
    pixels = np.abs(_pixels(fast) - _pixels(exact))
    assert 0 < pixels.mean() <= PIXEL_MEAN_BOUND
    p_exact = [s.fake_probability for s in wide.predict(exact)]
    p_fast = [s.fake_probability for s in wide.predict(fast)]
    assert np.abs(np.subtract(p_fast, p_exact)).max() <= PROBABILITY_BOUND


def _pixels(batch: list[ModelInputs]) -> np.ndarray:
    return np.stack([inputs["pixel_values"] for inputs in batch])


@pytest.mark.parametrize(("fast_decode", "decoded"), [(False, PHOTO), (True, (600, 450))])
async def test_detector_drafts_only_when_the_setting_is_on(
    photos: list[bytes], wide: HFClassifier, fast_decode: bool, decoded: tuple[int, int]
) -> None:
    """The setting (off by default) makes the Detector draft to twice the model's input."""
    assert ImageLimits().fast_decode is False
    model = _Recording(wide)
    limits = ImageLimits(fast_decode=fast_decode)
    async with Detector(model, queue=QueueSettings(), limits=limits) as detector:
        judgement = await detector.judge(photos[1])
    assert model.sizes == [decoded]
    exact = wide.predict([wide.prepare(decode_image(photos[1], ImageLimits()))])[0]
    assert judgement.fake_probability == pytest.approx(
        exact.fake_probability, abs=PROBABILITY_BOUND
    )
