"""The near-duplicate cache: re-compressed and resized copies hit, distinct pictures miss."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from config import ImageLimits, ModelSettings, QueueSettings
from core.classifier import HFClassifier
from core.detector import Detector
from core.near_duplicates import NearDuplicates, hamming, perceptual_hash
from core.preprocess import hash_picture
from tests.core.test_fast_decode import _photo_jpeg
from tests.tiny_model import FAMILIES, build_model_dir

DISTANCE = 4  # bits of 64; copies below measured 0-2, distinct photos 24 and more


def _copy(data: bytes, *, scale: float = 1.0, quality: int | None = None) -> bytes:
    """What a chat app does to a forwarded picture: shrink it and encode it again."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    if scale != 1.0:
        image = image.resize(
            (round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS
        )
    out = io.BytesIO()
    if quality is None:
        image.save(out, "PNG", compress_level=1)
    else:
        image.save(out, "JPEG", quality=quality)
    return out.getvalue()


@pytest.fixture(scope="module")
def wide(tmp_path_factory: pytest.TempPathFactory) -> HFClassifier:
    """A tiny model with the real 224 px input, which the hash is taken from."""
    folder = build_model_dir(
        tmp_path_factory.mktemp("wide-nd"), vision={"image_size": 224, "patch_size": 16}
    )
    return HFClassifier.load(ModelSettings(name=str(folder), offline=True, threads=1))


@pytest.fixture(scope="module")
def originals() -> list[bytes]:
    return [_photo_jpeg(seed, (800, 600)) for seed in range(6)]


def _hash(classifier: HFClassifier, data: bytes) -> int:
    image = Image.open(io.BytesIO(data)).convert("RGB")
    return perceptual_hash(hash_picture(classifier.prepare(image), image))


@pytest.mark.parametrize(
    ("scale", "quality"),
    [(1.0, 40), (1.0, 20), (0.5, 85), (0.25, 70), (1.0, None)],  # None: the same pixels as PNG
)
def test_copies_hash_within_the_distance(
    wide: HFClassifier, originals: list[bytes], scale: float, quality: int | None
) -> None:
    """Re-compressed, resized and re-encoded copies stay within a few bits of the original."""
    for data in originals:
        copy = _copy(data, scale=scale, quality=quality)
        assert hamming(_hash(wide, data), _hash(wide, copy)) <= DISTANCE


def test_distinct_pictures_hash_far_apart(wide: HFClassifier, originals: list[bytes]) -> None:
    """Unrelated pictures differ in many bits, far beyond the distance."""
    hashes = [_hash(wide, data) for data in originals]
    assert min(hamming(a, b) for a, b in itertools.combinations(hashes, 2)) > 4 * DISTANCE


class TestNearDuplicates:
    def test_nearest_within_the_distance_is_found(self) -> None:
        """A key a few bits away finds the stored value; the nearest one wins."""
        store: NearDuplicates[str] = NearDuplicates(8, distance=3)
        store.put(0b0000, "zero")
        store.put(0b1111_0000, "far")
        assert store.find(0b0011) == "zero"
        assert store.find(0b1111_0001) == "far"

    def test_beyond_the_distance_misses(self) -> None:
        """Four bits away is not a match at distance 3."""
        store: NearDuplicates[str] = NearDuplicates(8, distance=3)
        store.put(0, "zero")
        assert store.find(0b1111) is None

    def test_oldest_entries_are_forgotten(self) -> None:
        """At capacity the oldest hash gives way; size 0 keeps nothing."""
        store: NearDuplicates[int] = NearDuplicates(2, distance=0)
        for key in (1 << 10, 1 << 20, 1 << 30):
            store.put(key, key)
        assert store.find(1 << 10) is None
        assert store.find(1 << 30) == 1 << 30
        empty: NearDuplicates[int] = NearDuplicates(0, distance=0)
        empty.put(1, 1)
        assert empty.find(1) is None

    def test_full_64_bit_keys(self) -> None:
        """Hashes use all 64 bits, the top one included."""
        store: NearDuplicates[str] = NearDuplicates(4, distance=1)
        store.put(2**64 - 1, "ones")
        assert store.find(2**64 - 2) == "ones"


async def test_detector_answers_a_resized_copy_from_the_cache(
    wide: HFClassifier, originals: list[bytes]
) -> None:
    """With the setting on, a shrunk re-encoded copy is answered without running the model."""
    queue = QueueSettings(near_duplicate_distance=DISTANCE)
    async with Detector(wide, queue=queue, limits=ImageLimits()) as detector:
        first = await detector.judge(originals[0])
        copy = await detector.judge(_copy(originals[0], scale=0.5, quality=80))
        other = await detector.judge(originals[1])
        batches = detector.counters.batches
    assert copy.cached
    assert copy.fake_probability == first.fake_probability
    assert copy.sha256 != first.sha256
    assert not other.cached
    assert batches == 2


async def test_detector_ignores_near_duplicates_by_default(
    wide: HFClassifier, originals: list[bytes]
) -> None:
    """Off by default: a re-encoded copy is judged by the model afresh."""
    assert QueueSettings().near_duplicate_distance is None
    async with Detector(wide, queue=QueueSettings(), limits=ImageLimits()) as detector:
        await detector.judge(originals[0])
        copy = await detector.judge(_copy(originals[0], quality=60))
        batches = detector.counters.batches
    assert not copy.cached
    assert batches == 2


def test_hash_is_stable_for_equal_inputs() -> None:
    """The same tensor always gives the same hash, a 64-bit integer."""
    pixels = np.random.default_rng(0).uniform(-1, 1, (3, 224, 224)).astype(np.float32)
    assert perceptual_hash(pixels) == perceptual_hash(pixels.copy())
    assert 0 <= perceptual_hash(pixels) < 2**64


async def test_patch_models_hash_the_decoded_picture(
    tmp_path: Path, originals: list[bytes]
) -> None:
    """NaFlex takes patches, not a picture: the hash comes from the decoded image, so copies
    still hit and distinct pictures still miss."""
    folder = FAMILIES["siglip2-naflex"](tmp_path / "naflex")
    classifier = HFClassifier.load(ModelSettings(name=str(folder), offline=True, threads=1))
    queue = QueueSettings(near_duplicate_distance=DISTANCE)
    async with Detector(classifier, queue=queue, limits=ImageLimits()) as detector:
        first = await detector.judge(originals[0])
        copy = await detector.judge(_copy(originals[0], scale=0.5, quality=80))
        other = await detector.judge(originals[1])
    assert copy.cached
    assert copy.fake_probability == first.fake_probability
    assert not other.cached
