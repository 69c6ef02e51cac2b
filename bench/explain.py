"""Explaining against judging: the same photos through one Detector, the median of each.

    .venv/bin/python -m bench.explain [--images N] [--rounds R] [--backend B] [--fast-decode]
                                      [--workdir DIR] [--quick]

It reuses `bench.assets`' base-size random SigLIP classifier and 12 MP JPEG photos, opens one
Detector as `deepguard` does (default settings, but no result cache, so every request runs the
model), warms it up, and then, photo by photo and round by round, in rotating order, times:

- `judge`: `Detector.judge(bytes)`, what a check costs;
- `explain (map)`: `Detector.explain(bytes)`, the map alone (`deepguard explain --json`);
- `explain (picture)`: `Detector.explain(bytes, legend=...)`, the map and its PNG.

It prints a Markdown table of the medians and their ratio to judging (the issue's bound: at
most 1.15), how long the picture alone takes (its backdrop, made while the model runs, and the
painting and PNG encoding after it), and the machine. One process: the three
share the loaded model, so only what differs between them is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import machine
from bench.assets import ImageSet, ensure_images, ensure_model
from bench.measure import warmup_image

BOUND = 1.15
QUICK_NOTE = " (--quick: a smoke test; a tiny model's figures mean nothing)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench.explain", description=__doc__)
    parser.add_argument("--images", type=int, help="12 MP JPEG photos (default 8; 2 quick)")
    parser.add_argument("--rounds", type=int, default=3, help="times each photo (default 3)")
    parser.add_argument("--backend", default="torch", help="DEEPGUARD_MODEL__BACKEND to use")
    parser.add_argument("--fast-decode", action="store_true", help="JPEG draft decoding on")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "deepguard-bench",
        help="where the model and photos are kept and reused (default: %(default)s)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny model, small photos")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"preparing model and photos in {args.workdir} ...", file=sys.stderr)
    model = ensure_model(args.workdir, args.quick)
    size = (640, 480) if args.quick else (4000, 3000)
    files = ensure_images(
        args.workdir, ImageSet(args.images or (2 if args.quick else 8), size, 0, size)
    )
    load = os.getloadavg()
    timings, picture_ms = asyncio.run(_measure(model.path, files, args))
    header = [
        f"## Explaining against judging, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Command: `.venv/bin/python -m bench.explain {' '.join(argv or sys.argv[1:])}`",
        "",
        f"Model: random SigLIP image classifier, {model.parameters:,} parameters"
        f"{QUICK_NOTE if args.quick else ''}; backend {args.backend}, fast_decode "
        f"{'on' if args.fast_decode else 'off'}. {len(files)} JPEG {size[0]}x{size[1]} photos "
        f"x {args.rounds} rounds.",
        "",
        *machine.describe(),
        f"- load average (1/5/15 min) before: {_load(load)}, after: {_load(os.getloadavg())}",
        "",
    ]
    print("\n".join([*header, *_table(timings, picture_ms)]))
    return 0


async def _measure(
    model_dir: Path, files: list[Path], args: argparse.Namespace
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    from bots.replies import EXPLAIN_LEGEND
    from config import ImageLimits, ModelSettings, ProvenanceSettings, QueueSettings
    from core.detector import Detector
    from core.heatmap import backdrop, painted_png
    from core.images import decode_image

    settings = ModelSettings(name=str(model_dir), offline=True, backend=args.backend)
    limits = ImageLimits(fast_decode=args.fast_decode)
    queue = QueueSettings(cache_size=0)
    payloads = [path.read_bytes() for path in files]
    async with Detector.open(settings, queue, limits, ProvenanceSettings()) as detector:
        warm = _png(warmup_image())
        await detector.judge(warm)
        await detector.explain(warm, legend=EXPLAIN_LEGEND)
        steps: dict[str, Callable[[bytes], Awaitable[Any]]] = {
            "judge": detector.judge,
            "explain (map)": detector.explain,
            "explain (picture)": lambda data: detector.explain(data, legend=EXPLAIN_LEGEND),
        }
        timings: dict[str, list[float]] = {name: [] for name in steps}
        picture_ms: dict[str, list[float]] = {"backdrop": [], "paint + encode": []}
        order = list(steps)
        for round_ in range(args.rounds):
            for index, data in enumerate(payloads):
                # Rotate the order, so no step always runs first (or right after another).
                shift = (round_ + index) % len(order)
                for name in order[shift:] + order[:shift]:
                    began = time.perf_counter()
                    await steps[name](data)
                    timings[name].append((time.perf_counter() - began) * 1000)
            explained = await detector.explain(payloads[round_ % len(payloads)])
            image = decode_image(payloads[round_ % len(payloads)], limits)
            began = time.perf_counter()
            ground = backdrop(image, EXPLAIN_LEGEND)
            painting = time.perf_counter()
            painted_png(ground, explained.patches)
            picture_ms["backdrop"].append((painting - began) * 1000)
            picture_ms["paint + encode"].append((time.perf_counter() - painting) * 1000)
    return timings, picture_ms


def _table(timings: dict[str, list[float]], picture_ms: dict[str, list[float]]) -> list[str]:
    """Medians, and the median of each request's ratio to the judging of the same photo in
    the same round: requests side by side share the machine's load, so the paired ratio is
    the steadier figure on a shared machine."""
    judge = statistics.median(timings["judge"])
    lines = [
        "| step | median ms | p10-p90 ms | ratio of medians | median paired ratio |",
        "|---|---:|---:|---:|---:|",
    ]
    paired: dict[str, float] = {}
    for name, values in timings.items():
        deciles = statistics.quantiles(values, n=10) if len(values) > 1 else values * 9
        median = statistics.median(values)
        ratios = [v / j for v, j in zip(values, timings["judge"], strict=True)]
        paired[name] = statistics.median(ratios)
        lines.append(
            f"| {name} | {median:.0f} | {deciles[0]:.0f}-{deciles[-1]:.0f} | "
            f"{median / judge:.3f}x | {paired[name]:.3f}x |"
        )
    worst = paired["explain (picture)"]
    verdict = "within" if worst <= BOUND else "OVER"
    return [
        *lines,
        "",
        f"Explaining with the picture costs {worst:.3f}x judging (median paired ratio): "
        f"{verdict} the {BOUND}x bound.",
        "The picture alone, median: backdrop (shrink, grey, legend; made while the model runs) "
        f"{statistics.median(picture_ms['backdrop']):.0f} ms, then paint + PNG "
        f"{statistics.median(picture_ms['paint + encode']):.0f} ms.",
    ]


def _png(image: Any) -> bytes:
    import io

    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _load(values: tuple[float, float, float]) -> str:
    return "/".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    sys.exit(main())
