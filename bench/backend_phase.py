"""One backend and decode mode in a child process: `python -m bench.backend_phase CONFIG_JSON`.

Loads the classifier the way `Detector.open` does (`core.backends.load_classifier`, timed as
the start-up cost), then judges every file through a fresh `Detector` at each concurrency in
turn, so no run answers from another's cache. Prints one JSON object on its last line.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from bench.measure import judge_timed, peak_rss_mb


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
    from core.detector import Detector

    queue = QueueSettings(decode_workers=config.get("decode_workers", 2))
    limits = ImageLimits(fast_decode=config["fast_decode"])
    async with Detector(classifier, queue=queue, limits=limits) as detector:
        seconds, latencies_s, probabilities = await judge_timed(detector, payloads, concurrency)
        batches = {str(k): v for k, v in sorted(detector.counters.batch_sizes.items())}
    latencies = [s * 1000 for s in latencies_s]
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
