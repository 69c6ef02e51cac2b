"""`deepguard check` and `deepguard eval`: many files through the same batched Detector.

A file may be a still image, an animation or a video: each is one line, describing the whole
file (`Judgement.as_dict()`).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from functools import partial
from pathlib import Path

from tqdm import tqdm

from bots.i18n import english
from bots.replies import provenance_line
from config import ImageLimits, ModelSettings, Settings, VideoSettings
from core.detector import Detector, Judge
from core.errors import DeepGuardError
from core.evaluation import Report
from core.evaluation import evaluate as evaluate_scores
from core.kinds import HEAD_BYTES, check_upload_size
from core.result import Judgement, VerdictReason
from core.sampling import clock_text

Outcome = Judgement | str  # a verdict, or the user-safe reason there is none
ENGLISH = english()  # the CLI's tables and JSON stay English


async def check(settings: Settings, files: Sequence[Path], *, as_json: bool) -> int:
    """Print one line per file in input order; exit status 2 if any file was not judged."""
    async with _open(settings) as detector:
        outcomes = judge_files(detector, files, settings)
        failed = False
        if not as_json:
            print(f"{'VERDICT':<8}{'FAKE %':>7}  FILE")
        for path, pending in zip(files, outcomes, strict=True):
            outcome = await pending
            failed |= isinstance(outcome, str)
            print(_json_line(path, outcome) if as_json else _table_line(path, outcome), flush=True)
    return 2 if failed else 0


def _open(settings: Settings) -> AbstractAsyncContextManager[Detector]:
    return Detector.open(
        settings.model, settings.queue, settings.images, settings.provenance, settings.video
    )


def judge_files(
    judge: Judge, files: Iterable[Path], settings: Settings
) -> list[asyncio.Task[Outcome]]:
    """Start judging every file at once, at most `max_pending` in the queue at a time."""
    gate = asyncio.Semaphore(settings.queue.max_pending)
    return [
        asyncio.create_task(_judge_file(judge, path, settings.images, settings.video, gate))
        for path in files
    ]


async def _judge_file(
    judge: Judge,
    path: Path,
    limits: ImageLimits,
    video: VideoSettings,
    gate: asyncio.Semaphore,
) -> Outcome:
    async with gate:
        try:
            data = await asyncio.to_thread(_read, path, limits, video)
            return await judge.judge(data)
        except DeepGuardError as exc:
            return exc.message
        except FileNotFoundError:
            return "file not found"
        except IsADirectoryError:
            return "is a directory, not a file"
        except OSError as exc:
            return f"cannot read the file ({exc.strerror or exc.__class__.__name__})"


def _read(path: Path, limits: ImageLimits, video: VideoSettings) -> bytes:
    """The file's bytes; one over its kind's byte cap is refused without reading it all."""
    with path.open("rb") as file:
        head = file.read(HEAD_BYTES)
        check_upload_size(os.fstat(file.fileno()).st_size, head, limits, video)
        return head + file.read()


def _json_line(path: Path, outcome: Outcome) -> str:
    if isinstance(outcome, str):
        return json.dumps({"file": str(path), "error": outcome})
    return json.dumps({"file": str(path), **outcome.as_dict()})


def _table_line(path: Path, outcome: Outcome) -> str:
    """A row; under it, indented, what the image declares about itself (if anything)."""
    if isinstance(outcome, str):
        return f"{'ERROR':<8}{'-':>7}  {path}: {outcome}"
    line = f"{outcome.verdict.value:<8}{outcome.fake_probability * 100:>6.1f}%  {path}"
    clip = outcome.clip
    if clip is not None:
        worst = clip.most_suspicious
        line += (
            f" ({clip.media.value}, {clip.frames_decoded} frames, "
            f"most suspicious at {clock_text(worst.time_s)})"
        )
    declared = provenance_line(ENGLISH, outcome)
    if declared is None:
        return line
    if outcome.verdict_reason is VerdictReason.DECLARED:
        declared += " [verdict: declared]"
    return f"{line}\n{'':<17}{declared}"


async def evaluate(
    settings: Settings, directory: Path, *, target_fpr: float, as_json: bool
) -> int:
    """Judge DIR/real and DIR/fake and print the model card's metrics.

    With several models, each model's metrics and the ensemble's, side by side.
    """
    real_files, fake_files = _images_in(directory / "real"), _images_in(directory / "fake")
    if not real_files or not fake_files:
        print(f"deepguard: {directory} needs images in both real/ and fake/", file=sys.stderr)
        return 2
    async with _open(settings) as detector:
        files = real_files + fake_files
        tasks = judge_files(detector, files, settings)
        outcomes = [await task for task in tqdm(tasks, desc="judging", unit="img", disable=None)]
    judged: dict[Path, Judgement] = {}
    for path, outcome in zip(files, outcomes, strict=True):
        if isinstance(outcome, str):
            print(f"skipped {path}: {outcome}", file=sys.stderr)
        else:
            judged[path] = outcome
    real = [judged[p] for p in real_files if p in judged]
    fake = [judged[p] for p in fake_files if p in judged]
    if not real or not fake:
        print("deepguard: no judged images in real/ or fake/", file=sys.stderr)
        return 2
    threshold = settings.model.threshold

    def report_of(score: Callable[[Judgement], float]) -> Report:
        return evaluate_scores(
            [score(j) for j in real], [score(j) for j in fake], threshold, target_fpr
        )

    report = report_of(lambda judgement: judgement.fake_probability)
    names = settings.model.names
    if len(names) == 1:
        print(json.dumps(report.as_dict()) if as_json else _report_text(report, len(files)))
        return 0
    each = [report_of(partial(_model_probability, index)) for index in range(len(names))]
    if as_json:
        models = [{"name": name, **r.as_dict()} for name, r in zip(names, each, strict=True)]
        print(json.dumps({**report.as_dict(), "models": models}))
    else:
        print(_side_by_side(report, each, settings.model, len(files)))
    return 0


def _model_probability(index: int, judgement: Judgement) -> float:
    return judgement.models[index].scores.fake_probability


def _images_in(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


def _side_by_side(
    ensemble: Report, models: Sequence[Report], settings: ModelSettings, total: int
) -> str:
    """The ensemble's metrics and each model's, a column each, on the same images."""
    columns = [ensemble, *models]
    heads = ["ensemble", *(f"model {i}" for i in range(1, len(models) + 1))]

    def row(label: str, values: Iterable[str]) -> str:
        return f"{label:<26}" + "".join(f"{value:>12}" for value in values)

    fpr = f"{ensemble.target_fpr:.1%}"
    lines = [
        f"images judged   {ensemble.count} of {total}, threshold {ensemble.threshold:.3f}",
        row("", heads),
        row("AUC", (f"{r.auc:.4f}" for r in columns)),
        row("accuracy", (f"{r.accuracy:.4f}" for r in columns)),
        row("F1", (f"{r.f1:.4f}" for r in columns)),
        row("precision", (f"{r.precision:.4f}" for r in columns)),
        row("recall", (f"{r.recall:.4f}" for r in columns)),
        row(f"threshold for FPR <= {fpr}", (f"{r.threshold_at_target:.4f}" for r in columns)),
        row("  its FPR", (f"{r.fpr_at_target:.1%}" for r in columns)),
        row("  its recall", (f"{r.recall_at_target:.1%}" for r in columns)),
    ]
    named = zip(settings.names, settings.model_weights, strict=True)
    lines += [f"model {i}: {name} (weight {w:g})" for i, (name, w) in enumerate(named, 1)]
    return "\n".join(lines)


def _report_text(report: Report, total: int) -> str:
    c = report.confusion
    return "\n".join(
        [
            f"images judged   {report.count} of {total}",
            f"threshold       {report.threshold:.3f}",
            f"accuracy        {report.accuracy:.4f}",
            f"AUC             {report.auc:.4f}",
            f"F1              {report.f1:.4f}",
            f"precision       {report.precision:.4f}  (flagged images that were fake)",
            f"recall          {report.recall:.4f}  (fakes that were flagged)",
            "confusion       predicted FAKE | predicted REAL",
            f"  actual FAKE   {c.true_fake:>14} | {c.false_real}",
            f"  actual REAL   {c.false_fake:>14} | {c.true_real}",
            f"for a false positive rate <= {report.target_fpr:.1%}: threshold "
            f"{report.threshold_at_target:.4f} (FPR {report.fpr_at_target:.1%}, "
            f"recall {report.recall_at_target:.1%})",
        ]
    )
