"""`deepguard explain FILE`: where the model saw AI-like and real-like evidence in one image.

Without `--json` it writes the picture (`-o OUT.png`, by default `FILE`'s name with
`.explain.png` beside it) and says where. With `--json` it prints `{"file", "fake_probability",
"rows", "cols", "grid", "bias"}`, where `mean(grid) + bias` is the fake-minus-real logit gap, and
writes the picture only when `-o` names one. A file that cannot be explained is reported like
`deepguard check` reports it (`{"file", "error"}` with `--json`), with exit status 2.

Like every command line output, this stays English (an error's English `message`, the English
legend): the catalogs are for chats.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from bots import replies
from config import ImageLimits, Settings
from core.detector import Detector
from core.errors import DeepGuardError
from core.images import check_byte_size

EXIT_OK, EXIT_FAILED = 0, 2


async def explain(settings: Settings, path: Path, *, output: Path | None, as_json: bool) -> int:
    """Explain one file; the model is loaded only once the file has been read."""
    target = output if output is not None or as_json else default_output(path)
    try:
        data = await asyncio.to_thread(_read, path, settings.images)
    except (DeepGuardError, OSError) as exc:
        return _failed(path, _reason(exc), as_json=as_json)
    legend = replies.EXPLAIN_LEGEND if target is not None else None
    async with Detector.open(
        settings.model, settings.queue, settings.images, settings.provenance
    ) as detector:
        try:
            explanation = await detector.explain(data, legend=legend)
        except DeepGuardError as exc:
            return _failed(path, exc.message, as_json=as_json)
    if target is not None and explanation.png is not None:
        try:
            await asyncio.to_thread(target.write_bytes, explanation.png)
        except OSError as exc:
            reason = f"cannot write the picture ({exc.strerror or exc.__class__.__name__})"
            return _failed(target, reason, as_json=as_json)
    if as_json:
        print(json.dumps({"file": str(path), **explanation.as_dict()}))
    else:
        percent = explanation.fake_probability * 100
        print(f"{percent:.1f}% probability of AI; the picture is in {target}")
    return EXIT_OK


def default_output(path: Path) -> Path:
    """photo.jpg -> photo.explain.png, beside it."""
    return path.with_name(f"{path.stem}.explain.png")


def _read(path: Path, limits: ImageLimits) -> bytes:
    check_byte_size(path.stat().st_size, limits)  # don't read a huge file just to refuse it
    return path.read_bytes()


def _reason(error: DeepGuardError | OSError) -> str:
    """The user-safe reason, worded as `deepguard check` words it."""
    if isinstance(error, DeepGuardError):
        return error.message
    if isinstance(error, FileNotFoundError):
        return "file not found"
    if isinstance(error, IsADirectoryError):
        return "is a directory, not a file"
    return f"cannot read the file ({error.strerror or error.__class__.__name__})"


def _failed(path: Path, reason: str, *, as_json: bool) -> int:
    if as_json:
        print(json.dumps({"file": str(path), "error": reason}))
    else:
        print(f"deepguard: {path}: {reason}", file=sys.stderr)
    return EXIT_FAILED
