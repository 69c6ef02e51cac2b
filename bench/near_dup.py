"""How often the near-duplicate cache would confuse two pictures, and how often it finds copies.

Distinct pictures are synthetic photos with different seeds (every pair is compared); copies are
re-compressed or shrunk versions of some of them; edits paste an opaque patch over part of a
picture, the case the setting must not hide (an altered image answered as its original).
Hashes are taken as the Detector takes them: from the model's 224 px input tensor.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bench.assets import synthetic_photo

THRESHOLDS = (0, 2, 4, 6, 8, 10, 12)


def measure(model_dir: Path, count: int = 300, copies: int = 60) -> dict[str, Any]:
    from transformers import AutoImageProcessor

    from core.near_duplicates import hamming, perceptual_hash
    from core.preprocess import PixelArray, Preprocessor, hash_picture

    preprocess = Preprocessor(AutoImageProcessor.from_pretrained(model_dir))

    def prepare(photo: Image.Image) -> PixelArray:
        return hash_picture(preprocess(photo), photo)

    photos = [synthetic_photo((640, 480), seed=5000 + i) for i in range(count)]
    hashes = [perceptual_hash(prepare(photo)) for photo in photos]
    distinct = [hamming(a, b) for a, b in itertools.combinations(hashes, 2)]

    def distances(change: Callable[[Image.Image, int], Image.Image]) -> list[int]:
        return [
            hamming(hashes[i], perceptual_hash(prepare(change(photos[i], i))))
            for i in range(copies)
        ]

    kinds = {
        "JPEG q50": distances(lambda im, _: _jpeg(im, 50)),
        "half size, JPEG q80": distances(lambda im, _: _jpeg(_scale(im, 0.5), 80)),
        "quarter size, JPEG q70": distances(lambda im, _: _jpeg(_scale(im, 0.25), 70)),
        "edit: 2 % patch": distances(lambda im, i: _patch(im, 0.02, i)),
        "edit: 10 % patch": distances(lambda im, i: _patch(im, 0.10, i)),
        "edit: 25 % patch": distances(lambda im, i: _patch(im, 0.25, i)),
    }
    return {
        "count": count,
        "pairs": len(distinct),
        "distinct_min": min(distinct),
        "distinct_percentiles": np.percentile(distinct, [0.1, 1, 50]).tolist(),
        "false_match_rate": {t: _share(distinct, t) for t in THRESHOLDS},
        "match_rate": {kind: {t: _share(d, t) for t in THRESHOLDS} for kind, d in kinds.items()},
    }


def _share(distances: list[int], threshold: int) -> float:
    return float(np.mean(np.asarray(distances) <= threshold))


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return Image.open(io.BytesIO(out.getvalue())).convert("RGB")


def _scale(image: Image.Image, factor: float) -> Image.Image:
    size = (round(image.width * factor), round(image.height * factor))
    return image.resize(size, Image.Resampling.LANCZOS)


def _patch(image: Image.Image, area: float, seed: int) -> Image.Image:
    """An opaque patch of another picture over `area` of this one, somewhere random."""
    rng = np.random.default_rng(seed)
    width, height = round(image.width * area**0.5), round(image.height * area**0.5)
    donor = synthetic_photo((width, height), seed=9000 + seed)
    x = int(rng.integers(0, image.width - width + 1))
    y = int(rng.integers(0, image.height - height + 1))
    edited = image.copy()
    edited.paste(donor, (x, y))
    return edited


def table(result: dict[str, Any]) -> list[str]:
    head = " | ".join(f"<= {t}" for t in THRESHOLDS)
    lines = [f"| distance (bits of 64) | {head} |", "|---|" + "---:|" * len(THRESHOLDS)]
    rate = result["false_match_rate"]
    lines.append(
        f"| distinct pairs matched ({result['pairs']:,} pairs) | "
        + " | ".join(f"{100 * rate[t]:.3f} %" for t in THRESHOLDS)
        + " |"
    )
    for kind, rates in result["match_rate"].items():
        lines.append(
            f"| {kind} matched | "
            + " | ".join(f"{100 * rates[t]:.0f} %" for t in THRESHOLDS)
            + " |"
        )
    p01, p1, p50 = result["distinct_percentiles"]
    lines.append(
        f"\nDistinct pairs: smallest distance {result['distinct_min']}, "
        f"0.1st percentile {p01:.0f}, 1st {p1:.0f}, median {p50:.0f}."
    )
    return lines
