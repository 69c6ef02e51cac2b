"""One clip measurement per child: `python -m bench.video_phase PHASE MODEL THREADS FILE...`.

- `clips-c1` / `clips-c4`: `core.Detector` judging the clips' bytes, 1 or 4 clips in flight,
  with the default video settings (8 frames, 4 s decode budget) and a long request timeout;
- `gif-photo`: a photo, then the large GIF, three times each, one at a time, with the result
  cache off: how much longer the GIF takes than the photo, and how many frames it got.

The result is one JSON object on the last line of standard output (see `bench.phases`).
"""

from __future__ import annotations

import asyncio
import io
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench.measure import peak_rss_mb, warmup_image
from bench.video_assets import frame_key

Result = dict[str, Any]


async def _clips(classifier: Any, files: list[Path], in_flight: int) -> Result:
    from config import ImageLimits, QueueSettings, VideoSettings
    from core.detector import Detector

    payloads = {path: path.read_bytes() for path in files}  # in memory, as after a download
    gate = asyncio.Semaphore(in_flight)
    latencies: list[float] = []
    probabilities: dict[str, float] = {}
    decoded: list[int] = []

    async def one(path: Path, data: bytes) -> None:
        async with gate:
            began = time.perf_counter()
            judgement = await detector.judge(data)
            latencies.append(time.perf_counter() - began)
            assert judgement.clip is not None
            decoded.append(judgement.clip.frames_decoded)
            for frame in judgement.clip.frames:
                probabilities[frame_key(path, frame.index)] = frame.fake_probability

    # Default settings but the request timeout: 4 clips are 32 frames queued at once, which
    # on 2 shared cores can take longer than the default 30 s; the latency is the measure.
    queue = QueueSettings(request_timeout_s=600)
    limits, video = ImageLimits(), VideoSettings()
    async with Detector(classifier, queue=queue, limits=limits, video=video) as detector:
        await detector.judge(_png(warmup_image()))
        begun = time.perf_counter()
        await asyncio.gather(*(one(path, data) for path, data in payloads.items()))
        seconds = time.perf_counter() - begun
        sizes = sorted(detector.counters.batch_sizes.items())
    return {
        "seconds": seconds,
        "clips": len(latencies),
        "images": sum(decoded),  # frames judged, for frames/s
        "frames_decoded": decoded,
        "latencies_ms": [s * 1000 for s in latencies],
        "probabilities": probabilities,
        "batch_sizes": {str(size): count for size, count in sizes},
    }


async def _gif_photo(classifier: Any, files: list[Path]) -> Result:
    from config import ImageLimits, QueueSettings, VideoSettings
    from core.detector import Detector

    gif, photo = (path.read_bytes() for path in files)
    queue = QueueSettings(cache_size=0)  # every repeat is judged afresh
    timings: dict[str, list[float]] = {"photo": [], "gif": []}
    frames: list[int] = []
    duration = 0.0
    async with Detector(
        classifier, queue=queue, limits=ImageLimits(), video=VideoSettings()
    ) as detector:
        await detector.judge(_png(warmup_image()))
        for _ in range(3):
            for name, data in (("photo", photo), ("gif", gif)):
                began = time.perf_counter()
                judgement = await detector.judge(data)
                timings[name].append(time.perf_counter() - began)
                if judgement.clip is not None:
                    frames.append(judgement.clip.frames_decoded)
                    duration = judgement.clip.duration_s
    return {
        "photo_ms": [s * 1000 for s in timings["photo"]],
        "gif_ms": [s * 1000 for s in timings["gif"]],
        "gif_frames_decoded": frames,
        "gif_duration_s": duration,
        "gif_mb": files[0].stat().st_size / 2**20,
        "photo_mb": files[1].stat().st_size / 2**20,
        "extra_s_median": statistics.median(timings["gif"]) - statistics.median(timings["photo"]),
    }


def _png(image: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def main(argv: list[str]) -> int:
    from config import ModelSettings
    from core.classifier import HFClassifier

    phase, model_dir, threads, *names = argv
    files = [Path(name) for name in names]
    started = time.perf_counter()
    classifier = HFClassifier.load(
        ModelSettings(name=model_dir, offline=True, threads=int(threads) or None)
    )
    load_s = time.perf_counter() - started
    if phase == "gif-photo":
        result = asyncio.run(_gif_photo(classifier, files))
    else:
        result = asyncio.run(_clips(classifier, files, int(phase.removeprefix("clips-c"))))
    print(json.dumps({"load_s": load_s, "peak_rss_mb": peak_rss_mb(), **result}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
