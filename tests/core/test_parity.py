"""The Detector's probabilities equal the model card's usage code, in every family it runs.

The card's code is `processor(images, return_tensors="pt")` -> `model(**inputs).logits` ->
softmax -> read `id2label`, generalised to the label map: the fake probability is one minus
the real class's where the model has one, else the sum of the fake-like classes. Each family is
a tiny random model built by `tests.tiny_model` and loaded through the user's path.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import AutoImageProcessor, AutoModelForImageClassification

from config import ImageLimits, ModelSettings, QueueSettings
from core.classifier import HFClassifier
from core.detector import Detector
from core.preprocess import Preprocessor
from tests.tiny_model import FAMILIES, build_model_dir

REAL_NAMES = {"Real"}
FAKE_NAMES = {"Fake", "AI", "Deepfake", "Synthetic"}
FAST = {"siglip", "siglip-3class", "vit", "swin"}  # plain resize-and-normalise processors


def _photo(width: int, height: int, seed: int) -> Image.Image:
    """Smooth gradients plus noise: resampling filters differ on such content."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, (x + y) * 127 / (width + height)], -1)
    noisy = base + rng.normal(0, 25, base.shape)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def _files(folder: Path) -> list[Path]:
    """Sizes, aspect ratios and modes whose plain `convert("RGB")` is also the right picture."""
    cases = [
        ("small.png", _photo(33, 77, 1), "PNG"),
        ("photo.jpg", _photo(640, 480, 2), "JPEG"),
        ("large.jpg", _photo(1500, 1000, 3), "JPEG"),
        ("grey.png", _photo(120, 90, 4).convert("L"), "PNG"),
        ("palette.gif", _photo(64, 64, 5).convert("P"), "GIF"),
        ("square.webp", _photo(224, 224, 6), "WEBP"),
        ("panorama.png", _photo(400, 60, 7), "PNG"),
    ]
    paths = []
    for name, image, fmt in cases:
        path = folder / name
        image.save(path, fmt)
        paths.append(path)
    return paths


class _Card:
    """The model card's snippet, one image at a time, reading `id2label` by name."""

    def __init__(self, model_dir: Path) -> None:
        self.processor = AutoImageProcessor.from_pretrained(model_dir)
        self.model = AutoModelForImageClassification.from_pretrained(model_dir)

    def classes(self, path: Path) -> dict[str, float]:
        image = _open_rgb(path)
        inputs = self.processor(images=image, return_tensors="pt")
        with torch.no_grad():
            logits = self.model(**inputs).logits
        probabilities = torch.nn.functional.softmax(logits, dim=-1)[0].tolist()
        id2label = self.model.config.id2label
        return {id2label[i]: float(p) for i, p in enumerate(probabilities)}

    def fake_probability(self, path: Path) -> float:
        classes = self.classes(path)
        real = [p for name, p in classes.items() if name in REAL_NAMES]
        if real:
            return 1.0 - sum(real)
        return sum(p for name, p in classes.items() if name in FAKE_NAMES)


def _open_rgb(path: Path) -> Image.Image:
    with Image.open(path) as opened:  # the card leaves the file open; close it for the test
        return opened.convert("RGB")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return _files(tmp_path_factory.mktemp("parity-files"))


@pytest.fixture(scope="module", params=[*FAMILIES, "siglip-fake-classes-only"])
def family_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Each family's tiny model, and a three-class one with no real class at all."""
    folder = tmp_path_factory.mktemp(f"family-{request.param}")
    if request.param == "siglip-fake-classes-only":
        return build_model_dir(folder, {0: "Synthetic", 1: "Deepfake", 2: "Other"}, seed=4)
    return FAMILIES[request.param](folder, seed=2)


@pytest.fixture
async def family_detector(family_dir: Path) -> AsyncIterator[Detector]:
    settings = ModelSettings(name=str(family_dir), offline=True, device="cpu", threads=1)
    classifier = HFClassifier.load(settings)
    queue = QueueSettings(max_batch_size=8, max_wait_ms=20)
    async with Detector(classifier, queue=queue, limits=ImageLimits()) as running:
        yield running


async def test_every_family_matches_card_code(
    family_dir: Path, family_detector: Detector, files: list[Path]
) -> None:
    """Batched judgements equal the card's per-image probabilities within 1e-5, every class."""
    judgements = await asyncio.gather(*(family_detector.judge(p.read_bytes()) for p in files))
    assert family_detector.counters.batches < len(files)  # they really were batched together
    card = _Card(family_dir)
    for path, judgement in zip(files, judgements, strict=True):
        expected = card.classes(path)
        assert dict(judgement.classes) == pytest.approx(expected, abs=1e-5), path.name
        fake = card.fake_probability(path)
        assert judgement.fake_probability == pytest.approx(fake, abs=1e-5), path.name


def test_naflex_layouts_differ_and_share_one_forward(tmp_path: Path, files: list[Path]) -> None:
    """NaFlex gives every aspect ratio its own patch grid; padded, they run as one batch."""
    model_dir = FAMILIES["siglip2-naflex"](tmp_path / "naflex")
    classifier = HFClassifier.load(ModelSettings(name=str(model_dir), offline=True, threads=1))
    images = [_open_rgb(path) for path in files]
    prepared = [classifier.prepare(image) for image in images]
    assert set(prepared[0]) == {"pixel_values", "pixel_attention_mask", "spatial_shapes"}
    layouts = {tuple(inputs["spatial_shapes"].tolist()) for inputs in prepared}
    assert len(layouts) >= 4  # small, landscape, square, panorama: different grids
    calls: list[int] = []

    def count(module: Any, args: Any, inputs: dict[str, Any]) -> None:
        calls.append(len(inputs["pixel_values"]))

    hook = classifier._model.register_forward_pre_hook(count, with_kwargs=True)
    together = classifier.predict(prepared)
    hook.remove()
    assert calls == [len(images)]
    alone = [classifier.predict([inputs])[0] for inputs in prepared]
    for batched, single in zip(together, alone, strict=True):
        assert batched.fake_probability == pytest.approx(single.fake_probability, abs=1e-5)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_prepared_inputs_are_the_processors(tmp_path: Path, family: str) -> None:
    """Every family gets every output of its processor, equal within 1e-6; the fast path
    serves exactly the plain resize-and-normalise processors."""
    model_dir = FAMILIES[family](tmp_path / family)
    processor = AutoImageProcessor.from_pretrained(model_dir)
    preprocess = Preprocessor(processor)
    assert preprocess.is_fast == (family in FAST)
    image = _photo(300, 170, seed=11)
    expected = processor(images=image, return_tensors="np")
    made = preprocess(image)
    assert set(made) == set(expected)
    for name, array in made.items():
        np.testing.assert_allclose(array, expected[name][0], atol=1e-6, rtol=0, err_msg=name)


@pytest.mark.parametrize("size", [(33, 77), (640, 480), (3000, 2000)])
def test_fast_preprocessing_equals_processor(model_dir: Path, size: tuple[int, int]) -> None:
    """Resizing the decoded image first gives the processor's tensor within 1e-6."""
    processor = AutoImageProcessor.from_pretrained(model_dir)
    preprocess = Preprocessor(processor)
    assert preprocess.is_fast
    image = _photo(*size, seed=size[0])
    expected = processor(images=image, return_tensors="np")["pixel_values"][0]
    np.testing.assert_allclose(preprocess(image)["pixel_values"], expected, atol=1e-6, rtol=0)


def test_resample_is_read_from_the_config(tmp_path: Path) -> None:
    """Bicubic checkpoints (SigLIP) and bilinear ones (siglip2) each keep their own filter."""
    model_dir = build_model_dir(tmp_path / "bicubic", resample=3)
    processor = AutoImageProcessor.from_pretrained(model_dir)
    image = _photo(300, 200, seed=9)
    expected = processor(images=image, return_tensors="np")["pixel_values"][0]
    made = Preprocessor(processor)(image)["pixel_values"]
    np.testing.assert_allclose(made, expected, atol=1e-6, rtol=0)


def test_unsupported_processor_falls_back(classifier: HFClassifier) -> None:
    """A processor the shortcut does not cover is called as it is, every output kept."""

    class CroppingProcessor:
        def __call__(self, images: Image.Image, return_tensors: str) -> dict[str, np.ndarray]:
            array = np.asarray(images.resize((8, 8)), dtype=np.float32).transpose(2, 0, 1)
            return {"pixel_values": array[None] / 255.0, "extra": np.ones((1, 2), np.int64)}

    preprocess = Preprocessor(CroppingProcessor())
    assert not preprocess.is_fast
    out = preprocess(Image.new("RGB", (20, 20), (255, 0, 0)))
    assert out["pixel_values"].shape == (3, 8, 8)
    assert out["pixel_values"][0].max() == pytest.approx(1.0)
    assert out["extra"].tolist() == [1, 1]
    assert classifier.fast_preprocessing
