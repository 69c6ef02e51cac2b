"""The benchmark's inputs: a random SigLIP classifier on disk and synthetic photos.

Both are kept in the work directory and reused, since the full model takes a while to build and
a 12 MP photo a second or two to draw. A finished model directory carries a marker file, so a
run killed half-way through `save_pretrained` is rebuilt rather than trusted.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

# The siglip2-base vision tower; the text tower is unused by SiglipForImageClassification.
BASE_VISION = {
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "patch_size": 16,
    "image_size": 224,
}
QUICK_VISION = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "patch_size": 16,
    "image_size": 64,
}
TINY_TEXT = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
}
BILINEAR = 2  # siglip2 preprocessor configs use it; SigLIP's own default is bicubic (3)
_DONE = ".complete"


@dataclass(frozen=True, slots=True)
class ModelInfo:
    path: Path
    parameters: int


@dataclass(frozen=True, slots=True)
class ImageSet:
    """Which synthetic files to make: `count` JPEG photos and `pngs` PNGs."""

    count: int
    photo_size: tuple[int, int]
    pngs: int
    png_size: tuple[int, int]
    quality: int = 90


def ensure_model(workdir: Path, quick: bool, seed: int = 0) -> ModelInfo:
    """Build and save the random classifier once; later runs only count its parameters.

    Another `seed` gives another model of the same size (other weights, its own folder).
    """
    path = workdir / (
        ("model-quick" if quick else "model-base") + (f"-seed{seed}" if seed else "")
    )
    if not (path / _DONE).exists():
        _build_model(path, QUICK_VISION if quick else BASE_VISION, seed)
        (path / _DONE).write_text("saved\n")
    return ModelInfo(path, _count_parameters(path))


def _build_model(path: Path, vision: dict[str, int], seed: int) -> None:
    import torch
    from transformers import SiglipConfig, SiglipForImageClassification, SiglipImageProcessor

    labels = {0: "Real", 1: "Fake"}
    config = SiglipConfig(
        vision_config=vision,
        text_config=TINY_TEXT,
        id2label=labels,
        label2id={name: index for index, name in labels.items()},
    )
    torch.manual_seed(seed)
    model = SiglipForImageClassification(config)
    model.save_pretrained(path)
    side = vision["image_size"]
    processor = SiglipImageProcessor(size={"height": side, "width": side}, resample=BILINEAR)
    processor.save_pretrained(path)


def _count_parameters(path: Path) -> int:
    """Read from the safetensors headers, so reusing the model costs no load."""
    total = 0
    for shard in sorted(path.glob("*.safetensors")):
        with shard.open("rb") as file:
            header = json.loads(file.read(int.from_bytes(file.read(8), "little")))
        for name, entry in header.items():
            if name != "__metadata__":
                total += math.prod(entry["shape"])
    return total


def ensure_images(workdir: Path, images: ImageSet) -> list[Path]:
    """The JPEG photos then the PNGs, drawing only those not already on disk."""
    width, height = images.photo_size
    photo_dir = workdir / f"photos-{width}x{height}-q{images.quality}"
    pw, ph = images.png_size
    png_dir = workdir / f"png-{pw}x{ph}"
    photo_dir.mkdir(parents=True, exist_ok=True)
    png_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for index in range(images.count):
        path = photo_dir / f"photo-{index:03d}.jpg"
        if not path.exists():
            _save(synthetic_photo(images.photo_size, seed=index), path, quality=images.quality)
        files.append(path)
    for index in range(images.pngs):
        path = png_dir / f"picture-{index:03d}.png"
        if not path.exists():
            _save(synthetic_photo(images.png_size, seed=1000 + index), path)
        files.append(path)
    return files


def _save(image: Image.Image, path: Path, **options: Any) -> None:
    partial = path.with_name(path.name + ".part")
    image.save(partial, format=path.suffix.lstrip(".").upper().replace("JPG", "JPEG"), **options)
    partial.rename(path)


def synthetic_photo(size: tuple[int, int], seed: int) -> Image.Image:
    """Photo-like content: smooth colour fields, sharp-edged objects, texture, sensor noise.

    Flat or pure-noise images decode and compress unlike photos; this mix gives about 3.5 MB
    per 12 MP JPEG at quality 90 and a full decode of ~130-160 ms, as camera pictures have.
    """
    rng = np.random.default_rng(seed)
    width, height = size
    coarse = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    image = Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x0, x1 = sorted(int(v) for v in rng.integers(0, width, 2))
        y0, y1 = sorted(int(v) for v in rng.integers(0, height, 2))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        else:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(radius=max(1, width // 1500)))
    fine = rng.normal(0.0, 24.0, size=(max(1, height // 4), max(1, width // 4), 3))
    texture = Image.fromarray(np.clip(fine + 128, 0, 255).astype(np.uint8)).resize(
        size, Image.Resampling.BICUBIC
    )
    pixels = np.asarray(image, dtype=np.int16) + np.asarray(texture, dtype=np.int16) - 128
    pixels += rng.normal(0.0, 4.0, size=(height, width, 3)).astype(np.int16)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
