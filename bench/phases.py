"""One measurement per child process: `python -m bench.phases PHASE MODEL_DIR THREADS FILE...`.

A process per phase gives each its own peak RSS (`ru_maxrss` never goes down, so one process
would report the largest phase for all) and a cold start with no cache shared between phases.
The result is one JSON object on the last line of standard output.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from bench.breakdown import breakdown
from bench.measure import Result, judge_timed, peak_rss_mb, warmup_image


def card(model_dir: Path, threads: int | None, files: list[Path]) -> Result:
    """The model card's usage code, one image at a time, as its readers run it."""
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    if threads:
        torch.set_num_threads(threads)
    started = time.perf_counter()
    processor = AutoImageProcessor.from_pretrained(model_dir)
    model = AutoModelForImageClassification.from_pretrained(model_dir)
    load_s = time.perf_counter() - started
    fake = next(i for i, name in model.config.id2label.items() if name.lower() == "fake")

    def classify(image: Image.Image) -> float:
        inputs = processor(images=image, return_tensors="pt")
        with torch.no_grad():
            outputs = model(**inputs)
        probabilities = torch.nn.functional.softmax(outputs.logits, dim=-1)
        return float(probabilities[0, int(fake)].item())

    classify(warmup_image())
    probabilities: dict[str, float] = {}
    latencies = []
    begun = time.perf_counter()
    for path in files:
        one = time.perf_counter()
        image = Image.open(path).convert("RGB")
        probabilities[str(path)] = classify(image)
        latencies.append(time.perf_counter() - one)
    seconds = time.perf_counter() - begun
    return _result(load_s, seconds, latencies, probabilities, processor=type(processor).__name__)


def detector(model_dir: Path, threads: int | None, files: list[Path], concurrency: int) -> Result:
    """`core.Detector` with the default queue settings, `concurrency` requests at a time."""
    from config import ModelSettings
    from core.classifier import HFClassifier

    started = time.perf_counter()
    classifier = HFClassifier.load(
        ModelSettings(name=str(model_dir), offline=True, threads=threads)
    )
    load_s = time.perf_counter() - started
    return asyncio.run(_judge_all(classifier, files, concurrency, load_s))


async def _judge_all(
    classifier: Any, files: list[Path], concurrency: int, load_s: float
) -> Result:
    from config import ImageLimits, QueueSettings
    from core.detector import Detector

    # Bytes in memory, as a bot has them after a download; a read from the page cache
    # costs about a millisecond, which the card's `Image.open(path)` pays in its loop.
    payloads = {str(path): path.read_bytes() for path in files}
    async with Detector(classifier, queue=QueueSettings(), limits=ImageLimits()) as service:
        seconds, latencies, probabilities = await judge_timed(service, payloads, concurrency)
        sizes = sorted(service.counters.batch_sizes.items())
    return _result(
        load_s,
        seconds,
        latencies,
        probabilities,
        fast_preprocessing=classifier.fast_preprocessing,
        batch_sizes={str(size): count for size, count in sizes},
    )


def _result(
    load_s: float,
    seconds: float,
    latencies: list[float],
    probabilities: dict[str, float],
    **extra: Any,
) -> Result:
    return {
        "load_s": load_s,
        "seconds": seconds,
        "images": len(latencies),
        "latencies_ms": [s * 1000 for s in latencies],
        "probabilities": probabilities,
        "torch_threads": torch.get_num_threads(),
        "peak_rss_mb": peak_rss_mb(),
        **extra,
    }


PHASES: dict[str, Callable[[Path, int | None, list[Path]], Result]] = {
    "card": card,
    "detector-c1": lambda model, threads, files: detector(model, threads, files, 1),
    "detector-c16": lambda model, threads, files: detector(model, threads, files, 16),
    "breakdown": breakdown,
}


def main(argv: list[str]) -> int:
    """`threads` 0 means the library default, as a user who sets nothing gets."""
    phase, model_dir, threads, *files = argv
    result = PHASES[phase](Path(model_dir), int(threads) or None, [Path(f) for f in files])
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
