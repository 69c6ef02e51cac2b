"""Benchmark clips: 30 s 1080p H.264 MP4s through the Detector, against the card's loop.

.venv/bin/python -m bench.bench_video [--clips N] [--workdir DIR] [--threads T] [--quick]

Each phase runs in its own child process (`bench.child`), on the same files:
- `card-frames`: the model card's usage code (`bench.phases card`) on the frames DeepGuard
  samples from each clip, saved as PNG: what a user scripting the card would run per frame;
- `clips-c1` / `clips-c4`: `core.Detector` judging the clips' bytes, 1 and 4 in flight;
- `gif-photo`: a 12 MP photo and a 2000-frame 1024x1024 GIF, one at a time: the GIF's extra
  latency over the photo, and how many of its 8 frames the decode budget allowed.
Frames/s counts judged frames; a clip's latency is `judge()` on its bytes (the card's: the sum
of its frames'). The Markdown goes to standard output, raw results to `--workdir` as JSON;
`docs/benchmarks.md` keeps the recorded figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bench import machine
from bench.assets import ImageSet, ensure_images, ensure_model
from bench.child import ROOT, child_env, run_child
from bench.report import PhaseRun, max_difference
from bench.video_assets import ClipSet, GifSpec, ensure_clips, ensure_gif, sampled_pngs

FRAMES = 8  # DEEPGUARD_VIDEO__FRAMES' default


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench.bench_video", description=__doc__)
    parser.add_argument("--clips", type=int, help="30 s 1080p clips (default 8; 4 quick)")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "deepguard-bench",
        help="where the model, clips and GIF are kept and reused (default: %(default)s)",
    )
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: defaults)")
    parser.add_argument("--quick", action="store_true", help="tiny model, short small clips")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    workdir: Path = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"preparing model, clips and GIF in {workdir} ...", file=sys.stderr)
    model = ensure_model(workdir, args.quick)
    clips_spec = (
        ClipSet(args.clips or 4, 3, (320, 180))
        if args.quick
        else ClipSet(args.clips or 8, 30, (1920, 1080))
    )
    clips = ensure_clips(workdir, clips_spec)
    gif = ensure_gif(workdir, GifSpec(200, 256) if args.quick else GifSpec(2000, 1024))
    photo = ensure_images(
        workdir, ImageSet(1, (640, 480) if args.quick else (4000, 3000), 0, (1, 1))
    )[0]
    pngs = [p for clip in clips for p in sampled_pngs(clip, workdir / "sampled", FRAMES)]
    runs = [
        _phase("card-frames", ["bench.phases", "card"], model.path, args.threads, pngs),
        *(
            _phase(
                f"clips-c{n}",
                ["bench.video_phase", f"clips-c{n}"],
                model.path,
                args.threads,
                clips,
            )
            for n in (1, 4)
        ),
    ]
    gif_run = _phase(
        "gif-photo", ["bench.video_phase", "gif-photo"], model.path, args.threads, [gif, photo]
    )
    header = [
        f"## DeepGuard clip benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Command: `.venv/bin/python -m bench.bench_video {' '.join(argv or sys.argv[1:])}`",
        "",
        f"Model: random SigLIP image classifier, {model.parameters:,} parameters"
        f"{' (--quick: figures mean nothing)' if args.quick else ''}. Clips: "
        f"{clips_spec.count} H.264 MP4 {clips_spec.size[0]}x{clips_spec.size[1]}, "
        f"{clips_spec.seconds} s at {clips_spec.fps} fps, keyframe every {clips_spec.gop} "
        f"frames, crf {clips_spec.crf} ({_mean_mb(clips):.1f} MB each); {FRAMES} frames "
        "sampled per clip.",
        "",
        *machine.describe(),
    ]
    _save(workdir, [*runs, gif_run])
    print("\n".join([*header, "", *_table(runs), "", *_gif_lines(gif_run)]))
    return 0


def _phase(name: str, module: list[str], model: Path, threads: int, files: list[Path]) -> PhaseRun:
    print(f"running {name} ...", file=sys.stderr)
    argv = [sys.executable, "-m", *module, str(model), str(threads), *map(str, files)]
    child = run_child(argv, ROOT, child_env())
    if child.code != 0:
        raise SystemExit(f"phase {name} failed ({child.code}):\n{child.err[-3000:]}")
    return PhaseRun(name, child, json.loads(child.out.strip().splitlines()[-1]))


def _table(runs: list[PhaseRun]) -> list[str]:
    card, *detector = runs
    card_clips = _card_clip_latencies(card)
    lines = [
        "| path | clips in flight | frames/s | clip latency p50 (s) | p95 (s) | peak RSS (MB) "
        "| others' CPU % |",
        "|---|---:|---:|---:|---:|---:|---:|",
        _row("model card loop on the sampled PNGs", 1, card, card_clips),
    ]
    for run in detector:
        latencies = [ms / 1000 for ms in run.result["latencies_ms"]]
        in_flight = int(run.name.removeprefix("clips-c"))
        lines.append(_row("Detector on the MP4 bytes", in_flight, run, latencies))
    card_p = {Path(name).stem: p for name, p in card.result["probabilities"].items()}
    lines.append("")
    for run in detector:
        frames_decoded = run.result["frames_decoded"]
        # A clip out of decode budget judged fewer frames: compare the frames both judged.
        judged = run.result["probabilities"]
        common = set(card_p) & set(judged)
        diff = max_difference({k: card_p[k] for k in common}, {k: judged[k] for k in common})
        lines.append(
            f"- {run.name}: frames judged per clip {min(frames_decoded)}-{max(frames_decoded)}"
            f" of {FRAMES}; batch sizes {run.result['batch_sizes']}; max |p_card - p| over "
            f"the {len(common)} frames both judged: {diff:.2e}"
        )
    return lines


def _card_clip_latencies(card: PhaseRun) -> list[float]:
    """The card judges frame after frame: a clip takes the sum of its frames' latencies."""
    by_clip: dict[str, float] = {}
    names = list(card.result["probabilities"])
    for name, ms in zip(names, card.result["latencies_ms"], strict=True):
        clip = Path(name).stem.rsplit("-f", 1)[0]
        by_clip[clip] = by_clip.get(clip, 0.0) + ms / 1000
    return list(by_clip.values())


def _row(path: str, in_flight: int, run: PhaseRun, clip_s: list[float]) -> str:
    frames_per_s = run.result["images"] / run.result["seconds"]
    p50, p95 = (float(np.percentile(clip_s, q)) for q in (50, 95))
    return (
        f"| {path} | {in_flight} | {frames_per_s:.2f} | {p50:.2f} | {p95:.2f} "
        f"| {run.child.peak_rss_mb:.0f} | {run.child.others_share * 100:.0f} |"
    )


def _gif_lines(run: PhaseRun) -> list[str]:
    result = run.result
    gif_ms, photo_ms = result["gif_ms"], result["photo_ms"]
    return [
        f"- GIF ({result['gif_mb']:.1f} MB, {result['gif_duration_s']:.0f} s long) against a "
        f"{result['photo_mb']:.1f} MB photo, one at a time, cache off: GIF "
        f"{np.median(gif_ms) / 1000:.2f} s (median of {len(gif_ms)}), photo "
        f"{np.median(photo_ms) / 1000:.2f} s: **{result['extra_s_median']:.2f} s more**; "
        f"frames judged {result['gif_frames_decoded']} of {FRAMES} (the decode budget)."
    ]


def _mean_mb(files: list[Path]) -> float:
    return sum(f.stat().st_size for f in files) / max(1, len(files)) / 2**20


def _save(workdir: Path, runs: list[PhaseRun]) -> None:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    path = workdir / f"video-results-{stamp}.json"
    path.write_text(json.dumps([{"name": r.name, **r.outside(), **r.result} for r in runs]))
    print(f"raw results: {path}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
