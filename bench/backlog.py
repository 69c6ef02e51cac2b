"""Peak memory of a flood: 200 uploads of 10 MB arriving at once, with and without the backlog.

    .venv/bin/python -m bench.backlog            # both runs, each in its own process

Each run is a chat pipeline (`bots.pipeline.Pipeline`) with a fake platform whose downloads
take 50 ms and return a distinct ~10 MB JPEG each, 200 events from 200 senders started at once,
over a real `Detector` (a tiny random model, so decoding and memory dominate, not the model).
"With the backlog" bounds the uploads in hand at `DEEPGUARD_QUEUE__MAX_ADMITTED` (64 by
default): the rest are told "busy" before anything is downloaded. "Without" sets it above 200.
Prints one Markdown table row per run: uploads judged, told busy, peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

UPLOADS = 200
DOWNLOAD_S = 0.05


def _photo() -> bytes:
    """One ~10 MB JPEG of noise (noise keeps JPEG from compressing it much)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, size=(2600, 2600, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=95)
    return out.getvalue()


async def _flood(limit: int, model_dir: Path) -> dict[str, float]:
    import resource

    from bots.delivery import SeenMessages
    from bots.i18n import Catalogs
    from bots.pipeline import Pipeline
    from bots.port import Event, Image, Post
    from bots.throttle import Throttle
    from config import (
        ImageLimits,
        ModelSettings,
        ProvenanceSettings,
        QueueSettings,
        ReplySettings,
        ThrottleSettings,
    )
    from core.backlog import Backlog
    from core.detector import Detector
    from core.moderation.types import ChatKey, UploadContext
    from tests.bots.pipeline_fakes import FakePort, Message
    from tests.core.memory_store import MemoryStore

    photo = _photo()

    class SlowPort(FakePort):
        async def fetch(self, ref: str) -> bytes:
            """A fresh 10 MB upload, as a download allocates it: only what is in hand is held.

            Bytes after a JPEG's end marker are ignored: 200 distinct uploads, one encode.
            """
            self.calls.append(("fetch", ref))
            await asyncio.sleep(DOWNLOAD_S)
            return photo + int(ref).to_bytes(4, "big")

    model = ModelSettings(name=str(model_dir), offline=True, threads=1)
    queue = QueueSettings(max_pending=64, cache_size=0, request_timeout_s=600)
    limits = ImageLimits(max_bytes=16 * 2**20)
    ports = [SlowPort({}) for _ in range(UPLOADS)]
    async with Detector.open(model, queue, limits, ProvenanceSettings()) as detector:
        pipeline = Pipeline(
            detector,
            MemoryStore(),
            Throttle(ThrottleSettings()),
            SeenMessages(),
            Catalogs.load(),
            bands=ReplySettings(),
            burst=ThrottleSettings().burst,
            backlog=Backlog(limit),
        )
        events = []
        for i, port in enumerate(ports):
            who = UploadContext(private=True, channel=str(i), user=str(i))
            post = Post(str(i), str(i), who, [Image(str(i), str(i))], Message(str(i)))
            events.append(pipeline.run(Event(ChatKey("bench", str(i)), str(i), who, [post]), port))
        await asyncio.gather(*events)
    replies = [call for port in ports for call in port.calls if call[0] == "reply"]
    busy = sum("busy" in call[1] for call in replies)
    return {
        "limit": limit,
        "judged": len(replies) - busy,
        "busy": busy,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.backlog", description=__doc__)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--model", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(asyncio.run(_flood(args.child, args.model))))
        return
    from tests.tiny_model import build_model_dir

    model_dir = build_model_dir(Path(tempfile.mkdtemp()) / "tiny")
    print("| backlog | uploads judged | told busy | peak RSS |")
    print("| --- | --- | --- | --- |")
    for limit in (64, UPLOADS + 1):
        child = [sys.executable, "-m", "bench.backlog", "--child", str(limit)]
        out = subprocess.run([*child, "--model", str(model_dir)], capture_output=True, text=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        label = "64 (default)" if limit == 64 else "none (over 200)"
        print(
            f"| {label} | {row['judged']} | {row['busy']} | {row['peak_rss_mb']:.0f} MB |",
            flush=True,
        )


if __name__ == "__main__":
    main()
