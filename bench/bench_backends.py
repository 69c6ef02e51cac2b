"""Every backend and decode mode against the model card's loop, in one run on the same files.

    .venv/bin/python -m bench.bench_backends [--images 12] [--pngs 3] [--plot docs/img/x.png]
    .venv/bin/python -m bench.bench_backends --quick     # tiny model, small images: seconds

Needs the `onnx` extra (and `bench` for the plot). Steps, each measured phase in its own child
process (its own peak RSS, no shared cache): export the model to ONNX from scratch (timed); the
card's usage loop; `core.Detector` over each backend (torch, torch-bf16, torch-int8, onnx,
onnx-int8) with exact and fast (JPEG draft) decoding, at 1 and 16 requests in flight; a few
thread variants at 16 in flight (ONNX Runtime spinning, one decode or model thread, OpenMP
spinning) to show oversubscription; the near-duplicate hash's false-match rate. Prints Markdown for
docs/benchmarks.md and writes raw JSON to the work directory.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import backend_report, machine, near_dup
from bench.assets import ImageSet, ensure_images, ensure_model
from bench.child import ROOT, child_env, run_child

BACKENDS = ("torch", "torch-bf16", "torch-int8", "onnx", "onnx-int8")
CONCURRENCY = (1, 16)
# (label, backend, fast_decode, extra config, extra environment), compared with the default.
VARIANTS: tuple[tuple[str, str, bool, dict[str, Any], dict[str, str]], ...] = (
    ("onnx-int8 fast, ORT threads sleep", "onnx-int8", True, {"spinning": False}, {}),
    ("onnx-int8 fast, 1 decode thread", "onnx-int8", True, {"decode_workers": 1}, {}),
    ("onnx-int8 fast, 1 model thread", "onnx-int8", True, {"threads": 1}, {}),
    ("torch exact, 1 decode thread", "torch", False, {"decode_workers": 1}, {}),
    # core sets PASSIVE unless the environment says otherwise; ACTIVE is libgomp's default.
    ("torch exact, OMP_WAIT_POLICY=ACTIVE", "torch", False, {}, {"OMP_WAIT_POLICY": "ACTIVE"}),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench.bench_backends", description=__doc__)
    parser.add_argument("--images", type=int, default=12, help="12 MP JPEG photos")
    parser.add_argument("--pngs", type=int, default=3, help="1 MP PNGs")
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "deepguard-bench"
    )
    parser.add_argument("--quick", action="store_true", help="tiny model, small images")
    parser.add_argument("--no-variants", action="store_true", help="skip the thread variants")
    parser.add_argument("--plot", type=Path, help="write the throughput plot (PNG) here")
    parser.add_argument(
        "--only", nargs="*", default=None, help="probe: run only these phases/variants (labels)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    workdir = args.workdir.resolve()
    model = ensure_model(workdir, args.quick)
    images = (
        ImageSet(3, (640, 480), 1, (256, 192))
        if args.quick
        else ImageSet(args.images, (4000, 3000), args.pngs, (1155, 866))
    )
    files = [str(path) for path in ensure_images(workdir, images)]
    cache = workdir / ("onnx-cache-quick" if args.quick else "onnx-cache")
    if args.only is None:
        shutil.rmtree(cache, ignore_errors=True)  # the export is part of what is measured
    load_before, uptime_before = os.getloadavg(), _uptime()
    base: dict[str, Any] = {"model": str(model.path), "files": files, "cache": str(cache)}

    results: dict[str, Any] = {
        "export": _phase(
            "export", {**base, "backend": "onnx-int8", "fast_decode": False, "concurrency": []}
        )
    }
    results["card"] = _card(model.path, files)
    for backend in BACKENDS:
        for fast in (False, True):
            label = f"{backend} {'fast' if fast else 'exact'}"
            config = {**base, "backend": backend, "fast_decode": fast, "concurrency": CONCURRENCY}
            if args.only is None or label in args.only:
                results[label] = _phase(label, config)
    variants: dict[str, Any] = {}
    if not args.no_variants:
        for label, backend, fast, extra, env in VARIANTS:
            if args.only is not None and label not in args.only:
                continue
            config = {**base, "backend": backend, "fast_decode": fast, "concurrency": CONCURRENCY}
            variants[label] = _phase(label, {**config, **extra}, env)
    print("measuring near-duplicate hashes ...", file=sys.stderr)
    duplicates = near_dup.measure(model.path, count=60 if args.quick or args.only else 300)
    load_after, uptime_after = os.getloadavg(), _uptime()

    header = [
        f"## Backends benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Command: `.venv/bin/python -m bench.bench_backends {' '.join(argv or sys.argv[1:])}`",
        "",
        f"Model: random SigLIP image classifier, {model.parameters:,} parameters. Files: "
        f"{images.count} JPEG {images.photo_size[0]}x{images.photo_size[1]} q{images.quality}"
        f" + {images.pngs} PNG {images.png_size[0]}x{images.png_size[1]}.",
        "",
        *_lscpu(),
        *machine.describe(),
        f"- `uptime` before: {uptime_before}",
        f"- `uptime` after: {uptime_after}",
    ]
    if args.only is not None:  # a probe: raw figures only
        print(json.dumps(_summary(results, variants), indent=1))
        return 0
    body = backend_report.report(results, variants, duplicates)
    print("\n".join([*header, "", *body]))
    if args.plot is not None:
        backend_report.plot(results, args.plot)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    raw = workdir / f"backends-{stamp}.json"
    raw.write_text(
        json.dumps(
            {
                "results": results,
                "variants": variants,
                "near_duplicates": duplicates,
                "load": [load_before, load_after],
            },
            indent=1,
        )
    )
    print(f"raw results: {raw}", file=sys.stderr)
    return 0


def _phase(
    label: str, config: dict[str, Any], env: dict[str, str] | None = None
) -> dict[str, Any]:
    print(f"running {label} ...", file=sys.stderr)
    argv = [sys.executable, "-m", "bench.backend_phase", json.dumps(config)]
    child = run_child(argv, ROOT, {**child_env(), **(env or {})})
    if child.code != 0:
        raise SystemExit(f"phase {label} failed ({child.code}):\n{child.err[-3000:]}")
    result: dict[str, Any] = json.loads(child.out.strip().splitlines()[-1])
    result.update(
        wall_s=child.wall_s, peak_rss_mb=child.peak_rss_mb, others_share=child.others_share
    )
    return result


def _card(model_dir: Path, files: list[str]) -> dict[str, Any]:
    """The card's loop is sequential: 16 in flight means waiting in line behind each other."""
    print("running card ...", file=sys.stderr)
    argv = [sys.executable, "-m", "bench.phases", "card", str(model_dir), "0", *files]
    child = run_child(argv, ROOT, child_env())
    if child.code != 0:
        raise SystemExit(f"card failed ({child.code}):\n{child.err[-3000:]}")
    one = json.loads(child.out.strip().splitlines()[-1])
    return {
        "load_s": one["load_s"],
        "runs": {"1": one, "16": backend_report.queued(one, 16)},
        "peak_rss_mb": child.peak_rss_mb,
        "others_share": child.others_share,
        "wall_s": child.wall_s,
    }


def _summary(results: dict[str, Any], variants: dict[str, Any]) -> dict[str, Any]:
    return {
        label: {
            c: round(run["images"] / run["seconds"], 3)
            for c, run in result.get("runs", {}).items()
        }
        | {"load_s": result["load_s"], "others": result["others_share"]}
        for label, result in {**results, **variants}.items()
    }


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def _lscpu() -> list[str]:
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    wanted = ("Model name", "CPU(s)", "Thread(s) per core", "L2 cache", "L3 cache")
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    return ["- lscpu: " + "; ".join(f"{k}: {fields[k].strip()}" for k in wanted if k in fields)]


if __name__ == "__main__":
    sys.exit(main())
