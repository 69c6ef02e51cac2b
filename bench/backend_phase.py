"""One backend and decode mode in a child process: `python -m bench.backend_phase CONFIG_JSON`.

Loads the classifier the way `Detector.open` does (`core.backends.load_classifier`, timed as
the start-up cost), then judges every file through a fresh `Detector` at each concurrency in
turn, so no run answers from another's cache. Prints one JSON object on its last line.
"""

from __future__ import annotations

import asyncio
import io
import json
import sys
import time
from pathlib import Path
from typing import Any

from bench.phases import peak_rss_mb, warmup_image


def load(config: dict[str, Any]) -> tuple[Any, float]:
    from config import ModelSettings
    from core.backends import load_classifier

    settings = ModelSettings(
        name=config["model"],
        offline=True,
        backend=config["backend"],
        threads=config.get("threads") or None,
        onnx_cache_dir=Path(config["cache"]),
    )
    started = time.perf_counter()
    if "spinning" in config and config["backend"].startswith("onnx"):
        from core.backends.onnx import OnnxClassifier

        classifier: Any = OnnxClassifier.load(settings, spinning=config["spinning"])
    else:
        classifier = load_classifier(settings)
    return classifier, time.perf_counter() - started


async def judge_all(
    classifier: Any, config: dict[str, Any], payloads: dict[str, bytes], concurrency: int
) -> dict[str, Any]:
    from config import ImageLimits, QueueSettings
    from core import Detector

    queue = QueueSettings(decode_workers=config.get("decode_workers", 2))
    limits = ImageLimits(fast_decode=config["fast_decode"])
    gate = asyncio.Semaphore(concurrency)
    probabilities: dict[str, float] = {}
    latencies: list[float] = []
    async with Detector(classifier, queue=queue, limits=limits) as detector:
        warm = io.BytesIO()
        warmup_image().save(warm, format="PNG")
        await detector.judge(warm.getvalue())

        async def one(name: str, data: bytes) -> None:
            async with gate:
                began = time.perf_counter()
                judgement = await detector.judge(data)
                latencies.append((time.perf_counter() - began) * 1000)
                probabilities[name] = judgement.fake_probability

        begun = time.perf_counter()
        await asyncio.gather(*(one(name, data) for name, data in payloads.items()))
        seconds = time.perf_counter() - begun
        batches = {str(k): v for k, v in sorted(detector.counters.batch_sizes.items())}
    return {
        "seconds": seconds,
        "images": len(latencies),
        "latencies_ms": latencies,
        "probabilities": probabilities,
        "batch_sizes": batches,
    }


def main(argv: list[str]) -> int:
    config = json.loads(argv[0])
    classifier, load_s = load(config)
    payloads = {name: Path(name).read_bytes() for name in config["files"]}
    runs = {
        str(c): asyncio.run(judge_all(classifier, config, payloads, c))
        for c in config["concurrency"]
    }
    print(json.dumps({"load_s": load_s, "runs": runs, "peak_rss_mb": peak_rss_mb()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
