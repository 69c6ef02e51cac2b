"""Several models at once: the Detector's ensemble against the card's loop run once per model.

.venv/bin/python -m bench.ensemble [--images N] [--workdir DIR] [--quick]

Two random SigLIP classifiers of the base size (the siglip2-base vision tower, as `bench_core`
builds; different seeds, so different weights) and synthetic 12 MP JPEG photos plus a few 1 MP
PNGs, all kept in `--workdir`. Each phase runs in its own child process (peak RSS from
`wait4`):

- `card xN`: the model card's loop (processor, model, softmax, one image at a time) over every
  file, once per model in turn, in one process: what a reader of the card writes for N models;
- `detector xN`: `core.Detector` with N models (`DEEPGUARD_MODEL__NAME` listing them; default
  settings, so each model gets cores / N threads), 16 requests in flight;
- `detector x2, 2 threads each`: the same with the cores not shared out (oversubscribed).

It prints a Markdown table (images/s counts images judged by every model), the ratio of each
Detector phase to the card's loop with the same models, and the largest difference between the
ensemble's fake probability and the mean of the card's per-model ones. On a shared machine,
`--repeat N` runs the whole sequence N times and keeps each phase's fastest run (the one other
processes disturbed least); the others' CPU column says how disturbed it still was.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench import machine
from bench.assets import ImageSet, ensure_images, ensure_model
from bench.child import ROOT, Child, child_env, run_child

CONCURRENCY = 16


def card(models: list[Path], files: list[Path]) -> dict[str, Any]:
    """The card's loop once per model, one image at a time; seconds exclude loading."""
    import torch
    from PIL import Image
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    from bench.measure import warmup_image

    seconds, load_s, latencies = 0.0, 0.0, [0.0] * len(files)
    probabilities: dict[str, list[float]] = {str(path): [] for path in files}
    for model_dir in models:
        started = time.perf_counter()
        processor = AutoImageProcessor.from_pretrained(model_dir)
        model = AutoModelForImageClassification.from_pretrained(model_dir)
        load_s += time.perf_counter() - started
        fake = next(i for i, name in model.config.id2label.items() if name.lower() == "fake")

        def classify(
            image: Any, processor: Any = processor, model: Any = model, fake: int = int(fake)
        ) -> float:
            inputs = processor(images=image, return_tensors="pt")
            with torch.no_grad():
                logits = model(**inputs).logits
            return float(torch.softmax(logits, dim=-1)[0, fake])

        classify(warmup_image())
        begun = time.perf_counter()
        for index, path in enumerate(files):
            one = time.perf_counter()
            probabilities[str(path)].append(classify(Image.open(path).convert("RGB")))
            latencies[index] += time.perf_counter() - one
        seconds += time.perf_counter() - begun
    mean = {name: float(np.mean(each)) for name, each in probabilities.items()}
    threads = torch.get_num_threads()
    return _result(load_s, seconds, latencies, mean, threads_per_model=threads)


def detector(models: list[Path], files: list[Path], threads: int | None) -> dict[str, Any]:
    """`core.Detector` judging every file with all the models, 16 requests in flight."""
    return asyncio.run(_judge(models, files, threads))


async def _judge(models: list[Path], files: list[Path], threads: int | None) -> dict[str, Any]:
    import torch

    from bench.measure import judge_timed
    from config import ImageLimits, ModelSettings, ProvenanceSettings, QueueSettings
    from core.detector import Detector

    settings = ModelSettings(name=",".join(map(str, models)), offline=True, threads=threads)
    payloads = {str(path): path.read_bytes() for path in files}
    started = time.perf_counter()
    async with Detector.open(
        settings, QueueSettings(), ImageLimits(), ProvenanceSettings()
    ) as service:
        load_s = time.perf_counter() - started
        seconds, latencies, probabilities = await judge_timed(service, payloads, CONCURRENCY)
    return _result(load_s, seconds, latencies, probabilities, torch.get_num_threads())


def _result(
    load_s: float,
    seconds: float,
    latencies: list[float],
    probabilities: dict[str, float],
    threads_per_model: int,
) -> dict[str, Any]:
    return {
        "load_s": load_s,
        "seconds": seconds,
        "images": len(latencies),
        "latencies_ms": [s * 1000 for s in latencies],
        "probabilities": probabilities,
        "threads_per_model": threads_per_model,
    }


PHASES = {
    "card x1": lambda models, files: card(models[:1], files),
    "card x2": lambda models, files: card(models, files),
    "detector x1": lambda models, files: detector(models[:1], files, None),
    "detector x2": lambda models, files: detector(models, files, None),
    "detector x2, 2 threads each": lambda models, files: detector(models, files, 2),
}


def _run_phase(name: str, models: list[Path], files: list[Path]) -> tuple[Child, dict[str, Any]]:
    print(f"running {name} ...", file=sys.stderr)
    argv = [sys.executable, "-m", "bench.ensemble", "--phase", name]
    argv += ["--models", *map(str, models), "--files", *map(str, files)]
    child = run_child(argv, ROOT, child_env())
    if child.code != 0:
        raise SystemExit(f"phase {name} failed ({child.code}):\n{child.err[-3000:]}")
    return child, json.loads(child.out.strip().splitlines()[-1])


def _table(runs: dict[str, tuple[Child, dict[str, Any]]]) -> list[str]:
    lines = [
        "| phase | models | threads per model | load s | images/s | p50 ms | p95 ms "
        "| peak RSS MB | x card loop | max \\|Δp\\| vs card | others' CPU % |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, (child, result) in runs.items():
        count = 1 if name.endswith("x1") else 2
        card_result = runs[f"card x{count}"][1]
        rate = _rate(result)
        ratio = rate / _rate(card_result)
        delta = max(
            abs(p - card_result["probabilities"][f]) for f, p in result["probabilities"].items()
        )
        p50, p95 = np.percentile(result["latencies_ms"], [50, 95])
        lines.append(
            f"| {name} | {count} | {result['threads_per_model']} | {result['load_s']:.1f} "
            f"| {rate:.2f} | {p50:.0f} | {p95:.0f} | {child.peak_rss_mb:.0f} | {ratio:.2f} "
            f"| {delta:.1e} | {child.others_share * 100:.0f} |"
        )
    return lines


def _rate(result: dict[str, Any]) -> float:
    return float(result["images"] / result["seconds"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.ensemble", description=__doc__)
    parser.add_argument("--images", type=int, help="12 MP JPEG photos (default 12; 3 quick)")
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "deepguard-bench"
    )
    parser.add_argument("--quick", action="store_true", help="tiny models, small images")
    parser.add_argument("--repeat", type=int, default=1, help="runs of every phase; best kept")
    parser.add_argument("--phase", help=argparse.SUPPRESS)  # in a child: run one phase
    parser.add_argument("--models", nargs="*", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--files", nargs="*", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase:
        print(json.dumps(PHASES[args.phase](args.models, args.files)))
        return 0
    args.workdir.mkdir(parents=True, exist_ok=True)
    workdir = args.workdir.resolve()
    print(f"preparing models and images in {workdir} ...", file=sys.stderr)
    models = [ensure_model(workdir, args.quick, seed=seed).path for seed in (0, 1)]
    if args.quick:
        images = ImageSet(args.images or 3, (640, 480), 1, (256, 192))
    else:
        images = ImageSet(args.images or 12, (4000, 3000), 3, (1155, 866))
    files = ensure_images(workdir, images)
    runs: dict[str, tuple[Child, dict[str, Any]]] = {}
    for _ in range(args.repeat):
        for name in PHASES:
            child, result = _run_phase(name, models, files)
            if name not in runs or _rate(result) > _rate(runs[name][1]):
                runs[name] = child, result
    print("\n".join([*machine.describe(), "", *_table(runs)]))
    (workdir / "ensemble-results.json").write_text(
        json.dumps(
            {name: {**result, "peak_rss_mb": c.peak_rss_mb} for name, (c, result) in runs.items()}
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
