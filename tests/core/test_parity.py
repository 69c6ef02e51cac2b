"""The Detector's probabilities equal the model card's usage code for the same file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import AutoImageProcessor, AutoModelForImageClassification

from core.classifier import HFClassifier
from core.detector import Detector
from core.preprocess import Preprocessor


def _photo(width: int, height: int, seed: int) -> Image.Image:
    """Smooth gradients plus noise: resampling filters differ on such content."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, (x + y) * 127 / (width + height)], -1)
    noisy = base + rng.normal(0, 25, base.shape)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def _files(folder: Path) -> list[Path]:
    """Several sizes and modes whose plain `convert("RGB")` is also the right picture."""
    cases = [
        ("small.png", _photo(33, 77, 1), "PNG"),
        ("photo.jpg", _photo(640, 480, 2), "JPEG"),
        ("large.jpg", _photo(1500, 1000, 3), "JPEG"),
        ("grey.png", _photo(120, 90, 4).convert("L"), "PNG"),
        ("palette.gif", _photo(64, 64, 5).convert("P"), "GIF"),
        ("square.webp", _photo(224, 224, 6), "WEBP"),
    ]
    paths = []
    for name, image, fmt in cases:
        path = folder / name
        image.save(path, fmt)
        paths.append(path)
    return paths


def _card_probabilities(model_dir: Path, path: Path) -> list[float]:
    """The model card's snippet, one image at a time."""
    processor = AutoImageProcessor.from_pretrained(model_dir)
    model = AutoModelForImageClassification.from_pretrained(model_dir)
    with Image.open(path) as opened:  # the card leaves the file open; close it for the test
        image = opened.convert("RGB")
    inputs = processor(images=image, return_tensors="pt")
    with torch.no_grad():
        logits = model(**inputs).logits
    probabilities: list[float] = torch.nn.functional.softmax(logits, dim=-1)[0].tolist()
    return probabilities


async def test_detector_matches_card_code(
    tmp_path: Path, model_dir: Path, detector: Detector
) -> None:
    """Batched, cached-free judgements equal the card's per-image softmax within 1e-5."""
    paths = _files(tmp_path)
    judgements = await asyncio.gather(*(detector.judge(p.read_bytes()) for p in paths))
    assert detector.counters.batches < len(paths)  # they really were batched together
    for path, judgement in zip(paths, judgements, strict=True):
        real, fake = _card_probabilities(model_dir, path)
        assert judgement.fake_probability == pytest.approx(fake, abs=1e-5), path.name
        assert judgement.real_probability == pytest.approx(real, abs=1e-5), path.name


@pytest.mark.parametrize("size", [(33, 77), (640, 480), (3000, 2000)])
def test_fast_preprocessing_equals_processor(model_dir: Path, size: tuple[int, int]) -> None:
    """Resizing the decoded image first gives the processor's tensor within 1e-6."""
    processor = AutoImageProcessor.from_pretrained(model_dir)
    preprocess = Preprocessor(processor)
    assert preprocess.is_fast
    image = _photo(*size, seed=size[0])
    expected = processor(images=image, return_tensors="np")["pixel_values"][0]
    np.testing.assert_allclose(preprocess(image), expected, atol=1e-6, rtol=0)


def test_resample_is_read_from_the_config(tmp_path: Path) -> None:
    """Bicubic checkpoints (SigLIP) and bilinear ones (siglip2) each keep their own filter."""
    from tests.tiny_model import build_model_dir

    model_dir = build_model_dir(tmp_path / "bicubic", resample=3)
    processor = AutoImageProcessor.from_pretrained(model_dir)
    image = _photo(300, 200, seed=9)
    expected = processor(images=image, return_tensors="np")["pixel_values"][0]
    np.testing.assert_allclose(Preprocessor(processor)(image), expected, atol=1e-6, rtol=0)


def test_unsupported_processor_falls_back(classifier: HFClassifier) -> None:
    """A processor the shortcut does not cover is called as it is."""

    class CroppingProcessor:
        def __call__(self, images: Image.Image, return_tensors: str) -> dict[str, np.ndarray]:
            array = np.asarray(images.resize((8, 8)), dtype=np.float32).transpose(2, 0, 1)
            return {"pixel_values": array[None] / 255.0}

    preprocess = Preprocessor(CroppingProcessor())
    assert not preprocess.is_fast
    out = preprocess(Image.new("RGB", (20, 20), (255, 0, 0)))
    assert out.shape == (3, 8, 8)
    assert out[0].max() == pytest.approx(1.0)
    assert classifier.fast_preprocessing
