"""Measure every backend this machine can run, on the same images, against the exact path.

`deepguard backends` prints the result so an operator chooses `DEEPGUARD_MODEL__BACKEND` from
facts on their own machine. Each backend runs in a fresh process, so its peak memory is its own
and one backend's warm caches never flatter the next. Requests go through the real `Detector`
(decoding, batching, the model thread) with the result cache off, at 1 and at 8 in flight.
"""

from __future__ import annotations

import asyncio
import io
import multiprocessing
import resource
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from importlib.util import find_spec

import numpy as np
from PIL import Image

from config import ImageLimits, ModelSettings, ProvenanceSettings, QueueSettings
from core.backends.cpu import CpuFeatures

EXACT = "torch"
BACKENDS = ("torch", "torch-bf16", "torch-int8", "onnx", "onnx-int8")
# A backend is recommended only while it moves the median fake probability by at most this.
MEDIAN_DP_BOUND = 0.01
IN_FLIGHT = (1, 8)


@dataclass(frozen=True, slots=True)
class Measurement:
    """What one backend did in its own process."""

    backend: str
    images_per_s: dict[int, float]  # by requests in flight
    probabilities: tuple[float, ...]  # fake probability of each image, in order
    peak_rss_mb: float


@dataclass(frozen=True, slots=True)
class Row:
    """One backend's line of the table; `skipped` says why a backend did not run."""

    backend: str
    images_per_s: dict[int, float]
    median_dp: float
    max_dp: float
    peak_rss_mb: float
    skipped: str | None = None


def unavailable(backend: str, cpu: CpuFeatures) -> str | None:
    """Why `backend` cannot run here, or None."""
    if backend.startswith("onnx") and not (find_spec("onnxruntime") and find_spec("onnxscript")):
        return "needs the onnx extra: pip install 'deepguard[onnx]'"
    if backend == "torch-bf16" and not cpu.native_bf16:
        return "this CPU has no native bf16 (AVX-512-BF16 or AMX)"
    return None


def survey(
    settings: ModelSettings,
    images: Sequence[bytes],
    cpu: CpuFeatures,
    *,
    backends: Sequence[str] = BACKENDS,
    progress: Callable[[str], None] = lambda backend: None,
) -> list[Row]:
    """Measure each backend (the exact one first) on `images`; skipped ones say why."""
    order = [EXACT, *(b for b in backends if b != EXACT)]
    measured: dict[str, Measurement] = {}
    reasons: dict[str, str] = {}
    # One fresh process per backend: its own peak RSS, and no state carried between them.
    context = multiprocessing.get_context("spawn")
    for backend in order:
        progress(backend)
        reason = unavailable(backend, cpu)
        if reason is not None:
            reasons[backend] = reason
            continue
        with ProcessPoolExecutor(1, mp_context=context) as pool:
            measured[backend] = pool.submit(measure, settings, backend, list(images)).result()
    exact = np.array(measured[EXACT].probabilities)
    rows = []
    for backend in order:
        if backend in reasons:
            nan = float("nan")
            rows.append(Row(backend, {}, nan, nan, nan, skipped=reasons[backend]))
            continue
        found = measured[backend]
        dp = np.abs(np.array(found.probabilities) - exact)
        rows.append(
            Row(
                backend,
                found.images_per_s,
                float(np.median(dp)),
                float(dp.max()),
                found.peak_rss_mb,
            )
        )
    return rows


def recommend(rows: Sequence[Row]) -> Row:
    """The fastest backend at 8 in flight whose median deviation stays within the bound."""
    candidates = [r for r in rows if r.skipped is None and r.median_dp <= MEDIAN_DP_BOUND]
    return max(candidates, key=lambda r: r.images_per_s[IN_FLIGHT[-1]])


def measure(settings: ModelSettings, backend: str, images: Sequence[bytes]) -> Measurement:
    """Load `backend`, judge every image at each number in flight (runs in a child process)."""
    return asyncio.run(_measure(settings.model_copy(update={"backend": backend}), images))


async def _measure(settings: ModelSettings, images: Sequence[bytes]) -> Measurement:
    from core.detector import Detector

    queue = QueueSettings(
        max_batch_size=max(IN_FLIGHT),
        cache_size=0,
        near_duplicate_distance=None,
        max_pending=4 * max(IN_FLIGHT),
    )
    limits = ImageLimits(max_bytes=max(map(len, images)), max_pixels=10**9, max_side=10**6)
    async with Detector.open(settings, queue, limits, ProvenanceSettings()) as detector:
        await asyncio.gather(*(detector.judge(data) for data in images[: max(IN_FLIGHT)]))
        probabilities: tuple[float, ...] = ()
        speed = {}
        for in_flight in IN_FLIGHT:
            gate = asyncio.Semaphore(in_flight)

            async def judged(data: bytes, gate: asyncio.Semaphore = gate) -> float:
                async with gate:
                    return (await detector.judge(data)).fake_probability

            started = time.perf_counter()
            answers = await asyncio.gather(*(judged(data) for data in images))
            speed[in_flight] = len(images) / (time.perf_counter() - started)
            probabilities = probabilities or tuple(answers)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return Measurement(settings.backend, speed, probabilities, peak)


def sample_photos(count: int = 8, size: tuple[int, int] = (4000, 3000)) -> list[bytes]:
    """Photo-like JPEGs (12 MP by default): smooth light, edges and sensor noise, all different."""
    rng = np.random.default_rng(17)
    width, height = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    photos = []
    for index in range(count):
        fx, fy = rng.uniform(0.5, 3, 2)
        light = 128 + 90 * np.sin(fx * x / width * np.pi + index) * np.cos(fy * y / height * np.pi)
        tint = rng.uniform(0.6, 1.2, 3)
        pixels = light[..., None] * tint + rng.normal(0, 6 + index, (height, width, 3))
        block = (x // (width / 7) + y // (height / 5) + index) % 3 == 0
        pixels[block] *= 0.7
        out = io.BytesIO()
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=90)
        photos.append(out.getvalue())
    return photos


def table(rows: Sequence[Row]) -> str:
    """The measurements as an aligned text table."""
    head = ["backend", *(f"images/s ({n} in flight)" for n in IN_FLIGHT)]
    head += ["vs exact", "median |dp|", "max |dp|", "peak RSS"]
    most = IN_FLIGHT[-1]
    exact = next((r.images_per_s[most] for r in rows if r.backend == EXACT), float("nan"))
    lines = [head]
    for row in rows:
        if row.skipped is not None:
            lines.append([row.backend, f"skipped: {row.skipped}"])
            continue
        lines.append(
            [
                row.backend,
                *(f"{row.images_per_s[n]:.2f}" for n in IN_FLIGHT),
                f"{row.images_per_s[most] / exact:.2f}x",
                "exact" if row.backend == EXACT else f"{row.median_dp:.4f}",
                "exact" if row.backend == EXACT else f"{row.max_dp:.4f}",
                f"{row.peak_rss_mb:.0f} MB",
            ]
        )
    full = [line for line in lines if len(line) == len(head)]
    widths = [max(len(line[i]) for line in full) for i in range(len(head))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=False)).rstrip()
        for line in lines
    )
