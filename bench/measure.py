"""What every benchmark child process measures with: a warm-up image, a timed run of a set of
images through a Detector, and the process's peak RSS, reported in one JSON `Result`."""

from __future__ import annotations

import asyncio
import io
import resource
import time
from typing import Any

import numpy as np
from PIL import Image

Result = dict[str, Any]  # one JSON object, the last line a child prints


def warmup_image() -> Image.Image:
    """Not one of the measured files, so the detector's cache cannot answer them from it."""
    rng = np.random.default_rng(12345)
    return Image.fromarray(rng.integers(0, 256, size=(480, 640, 3), dtype=np.uint8))


async def judge_timed(
    detector: Any, payloads: dict[str, bytes], concurrency: int
) -> tuple[float, list[float], dict[str, float]]:
    """Warm `detector` up, then judge `payloads`, `concurrency` requests at a time.

    Returns the wall time and each request's latency (seconds), and the fake probability of
    each payload under its key.
    """
    warm = io.BytesIO()
    warmup_image().save(warm, format="PNG")
    await detector.judge(warm.getvalue())
    gate = asyncio.Semaphore(concurrency)
    probabilities: dict[str, float] = {}
    latencies: list[float] = []

    async def one(name: str, data: bytes) -> None:
        async with gate:
            began = time.perf_counter()
            judgement = await detector.judge(data)
            latencies.append(time.perf_counter() - began)
            probabilities[name] = judgement.fake_probability

    begun = time.perf_counter()
    await asyncio.gather(*(one(name, data) for name, data in payloads.items()))
    return time.perf_counter() - begun, latencies, probabilities


def peak_rss_mb() -> float:
    """This process's high-water mark; Linux reports kilobytes."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
