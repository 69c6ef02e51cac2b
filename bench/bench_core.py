"""Benchmark the model card's usage code against DeepGuard's path (see `bench/__init__.py`).

.venv/bin/python -m bench.bench_core [--images N] [--workdir DIR] [--threads T]
                                     [--quick] [--breakdown] [--no-check]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench import machine, report
from bench.assets import ImageSet, ensure_images, ensure_model
from bench.child import ROOT, child_env, run_child
from bench.report import PhaseRun

QUICK_NOTE = " (--quick: a smoke test; a tiny model's figures mean nothing)"
DETECTOR_PHASES = ("card", "detector-c1", "detector-c16")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench.bench_core", description=__doc__)
    parser.add_argument("--images", type=int, help="12 MP JPEG photos (default 16; 3 quick)")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "deepguard-bench",
        help="where the model and images are kept and reused (default: %(default)s)",
    )
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: defaults)")
    parser.add_argument("--quick", action="store_true", help="tiny model, small images")
    parser.add_argument("--breakdown", action="store_true", help="time each stage too")
    parser.add_argument("--no-check", action="store_true", help="skip `deepguard check`")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    images = _image_set(args.quick, args.images)
    args.workdir.mkdir(parents=True, exist_ok=True)
    args.workdir = args.workdir.resolve()
    print(f"preparing model and images in {args.workdir} ...", file=sys.stderr)
    model = ensure_model(args.workdir, args.quick)
    files = ensure_images(args.workdir, images)
    load_before = os.getloadavg()
    runs = [_phase(name, model.path, args.threads, files) for name in DETECTOR_PHASES]
    if not args.no_check:
        runs.append(_check(model.path, args.threads, files))
    details = (
        _phase("breakdown", model.path, args.threads, _sample(files)) if args.breakdown else None
    )
    load_after = os.getloadavg()
    header = [
        f"## DeepGuard benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Command: `.venv/bin/python -m bench.bench_core {' '.join(argv or sys.argv[1:])}`",
        "",
        f"Model: random SigLIP image classifier, {model.parameters:,} parameters"
        f"{QUICK_NOTE if args.quick else ''}. Files: {images.count} JPEG "
        f"{images.photo_size[0]}x{images.photo_size[1]} q{images.quality} "
        f"({_mean_mb(files, '.jpg'):.2f} MB each on average) + {images.pngs} PNG "
        f"{images.png_size[0]}x{images.png_size[1]}.",
        "",
        *machine.describe(),
        f"- load average (1/5/15 min) before: {_load(load_before)}, after: {_load(load_after)}",
    ]
    print("\n".join([*header, "", *_results(runs, details)]))
    _save(args.workdir, runs, details)
    return 0


def _results(runs: list[PhaseRun], details: PhaseRun | None) -> list[str]:
    lines = [*report.table(runs), "", *report.LEGEND, ""]
    lines += [*report.ratios(runs[0], runs[1:]), *report.details(runs), ""]
    lines += report.interference(runs)
    if details is not None:
        lines += ["", *report.breakdown(details.result)]
    return lines


def _sample(files: list[Path]) -> list[Path]:
    """A few photos and one PNG: enough for medians, short enough for a shared machine."""
    jpegs = [f for f in files if f.suffix == ".jpg"]
    pngs = [f for f in files if f.suffix == ".png"]
    return jpegs[:4] + pngs[:1]


def _image_set(quick: bool, count: int | None) -> ImageSet:
    if quick:
        return ImageSet(count or 3, (640, 480), 1, (256, 192))
    return ImageSet(count or 16, (4000, 3000), 3, (1155, 866))


def _phase(name: str, model_dir: Path, threads: int, files: list[Path]) -> PhaseRun:
    print(f"running {name} ...", file=sys.stderr)
    argv = [sys.executable, "-m", "bench.phases", name, str(model_dir), str(threads)]
    child = run_child([*argv, *map(str, files)], ROOT, child_env())
    if child.code != 0:
        raise SystemExit(f"phase {name} failed ({child.code}):\n{child.err[-3000:]}")
    return PhaseRun(name, child, json.loads(child.out.strip().splitlines()[-1]))


def _check(model_dir: Path, threads: int, files: list[Path]) -> PhaseRun:
    """`deepguard check --json`, end to end: start-up, model load, every file."""
    print("running deepguard check ...", file=sys.stderr)
    env = child_env()
    env["DEEPGUARD_MODEL__OFFLINE"] = "true"
    if threads:
        env["DEEPGUARD_MODEL__THREADS"] = str(threads)
    argv = [sys.executable, "-m", "bots.cli", "check", "--model", str(model_dir), "--json"]
    # Run outside the repository, so a developer's .env cannot change what is measured.
    with tempfile.TemporaryDirectory() as empty:
        child = run_child([*argv, *map(str, files)], Path(empty), env)
    err = child.err
    try:
        rows = [json.loads(line) for line in child.out.splitlines() if line.startswith("{")]
        probabilities = {str(row["file"]): float(row["fake_probability"]) for row in rows}
    except (ValueError, KeyError) as exc:
        rows, probabilities = [], {}
        err += f"\nunreadable output: {exc}"
    if child.code != 0 or len(probabilities) != len(files):
        reason = (err.strip().splitlines() or [f"exit {child.code}"])[-1][:120]
        return PhaseRun("deepguard check", child, skipped=f"exit {child.code}: {reason}")
    return PhaseRun("deepguard check", child, {"images": len(rows), **_paths(probabilities)})


def _paths(probabilities: dict[str, float]) -> dict[str, object]:
    """The CLI may print paths as given or resolved; key them as the phases do."""
    return {"probabilities": {str(Path(name).resolve()): p for name, p in probabilities.items()}}


def _mean_mb(files: list[Path], suffix: str) -> float:
    sizes = [f.stat().st_size for f in files if f.suffix == suffix]
    return sum(sizes) / max(1, len(sizes)) / 2**20


def _load(values: tuple[float, float, float]) -> str:
    return "/".join(f"{v:.2f}" for v in values)


def _save(workdir: Path, runs: list[PhaseRun], details: PhaseRun | None) -> None:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    path = workdir / f"results-{stamp}.json"
    payload = [
        {"name": r.name, **r.outside(), **r.result}
        for r in [*runs, *([details] if details else [])]
    ]
    path.write_text(json.dumps(payload, indent=1))
    print(f"raw results: {path}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
