"""Where an image's time goes: each stage of both paths timed alone, on the same files.

Run as the `breakdown` phase (`bench_core --breakdown`). Stages are timed one after another
in one thread, except the last row, which times the model while a second thread decodes
photos: what the detector does under load, when the decode pool and torch's intra-op threads
share the cores.
"""

from __future__ import annotations

import io
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from bench.measure import Result, peak_rss_mb


def breakdown(model_dir: Path, threads: int | None, files: list[Path]) -> Result:
    """Median milliseconds per stage over `files`, and the card/core tensor difference."""
    from transformers import AutoImageProcessor

    from config import ImageLimits, ModelSettings
    from core.classifier import HFClassifier
    from core.images import decode_image

    classifier = HFClassifier.load(
        ModelSettings(name=str(model_dir), offline=True, threads=threads)
    )
    processor = AutoImageProcessor.from_pretrained(model_dir)
    limits = ImageLimits()
    payloads = [path.read_bytes() for path in files]
    classifier.predict([classifier.prepare(Image.new("RGB", (64, 64)))])  # warm-up

    stages: dict[str, list[float]] = {}
    diffs = [_stages(stages, data, processor, classifier, limits) for data in payloads]
    pixels = classifier.prepare(decode_image(payloads[0], limits))
    batch = [classifier.prepare(Image.new("RGB", (64, 64)))] * 8
    eight = min(_once(lambda: classifier.predict(batch)) for _ in range(2)) / 8  # 1st: warm-up
    contended = _contended(classifier, pixels, lambda: decode_image(payloads[0], limits))
    rows = {name: statistics.median(values) for name, values in stages.items()}
    rows["model: batch of 8, per image"] = eight
    rows["model: batch of 1 while a thread decodes"] = contended
    return {
        "stages_ms": rows,
        "tensor_max_diff": max(diffs),
        "torch_threads": torch.get_num_threads(),
        "peak_rss_mb": peak_rss_mb(),
    }


def _stages(
    stages: dict[str, list[float]], data: bytes, processor: Any, classifier: Any, limits: Any
) -> float:
    """Time one file through both paths; return how far apart their tensors are."""
    from core.images import decode_image

    card_image = _timed(stages, "card: Image.open + convert", lambda: _card_decode(data))
    card_pixels = _timed(
        stages,
        "card: processor(images=...)",
        lambda: processor(images=card_image, return_tensors="pt")["pixel_values"][0],
    )
    image = _timed(stages, "core: decode_image", lambda: decode_image(data, limits))
    pixels = _timed(stages, "core: classifier.prepare", lambda: classifier.prepare(image))
    _timed(stages, "model: batch of 1", lambda: classifier.predict([pixels]))
    return float(np.abs(card_pixels.numpy() - pixels).max())


def _card_decode(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def _timed(stages: dict[str, list[float]], name: str, work: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    value = work()
    stages.setdefault(name, []).append((time.perf_counter() - started) * 1000)
    return value


def _once(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return (time.perf_counter() - started) * 1000


def _contended(classifier: Any, pixels: Any, decode: Callable[[], object]) -> float:
    """Median model time for a batch of 1 while another thread keeps decoding."""
    stop = threading.Event()

    def keep_decoding() -> None:
        while not stop.is_set():
            decode()

    worker = threading.Thread(target=keep_decoding, daemon=True)
    worker.start()
    try:
        times = [_once(lambda: classifier.predict([pixels])) for _ in range(3)]
    finally:
        stop.set()
        worker.join()
    return statistics.median(times)
