"""Which frames of a clip are judged, within what time, and what sampling hands to the model.

`DEEPGUARD_VIDEO__FRAMES` times, evenly spaced from the clip's first frame over its whole
duration (the k-th of n at k/n of it); each picks the frame showing at that time, and a frame
picked twice is judged once. Timestamps stay integers (a container's ticks, or microseconds)
so that a frame boundary falls on the same side every time.

A clip has a decode budget: the first sampled frame is always decoded, and once the budget is
spent no further frame is, so a slow clip is answered on the frames it gave so far. It is wall
clock time, contention included: it bounds what a user waits for, not the CPU spent (FFmpeg
decodes in threads of its own, which the decode thread's CPU time would not see).
"""

from __future__ import annotations

import hashlib
import time
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from config import VideoSettings
from core.errors import N_, ClipTooLong
from core.result import Media

Prepare = Callable[[Image.Image], Any]  # a decoded frame to model input (one per model)
Clock = Callable[[], float]  # seconds, monotonic


def sample_frames(starts: Sequence[int], end: int, count: int) -> list[int]:
    """Indices of the frames showing at `count` evenly spaced times, ascending, each once.

    `starts` holds each frame's start, ascending; the clip runs from `starts[0]` to `end`.
    """
    first = starts[0]
    span = max(end - first, 0)
    picked: list[int] = []
    for k in range(count):
        index = bisect_right(starts, first + span * k // count) - 1
        if not picked or index != picked[-1]:
            picked.append(index)
    return picked


class Budget:
    """Decode time left for one clip, on an injectable clock."""

    def __init__(self, seconds: float, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._deadline = clock() + seconds

    @property
    def spent(self) -> bool:
        return self._clock() >= self._deadline


@dataclass(frozen=True, slots=True)
class SampledFrame:
    """A sampled frame as model input; `digest` tells identical frames apart from the rest.

    `pixels` is what the `Prepare` made: the Decoder's is a tuple of inputs, one per model.
    """

    index: int
    time_s: float
    pixels: Any
    digest: str

    @classmethod
    def of(cls, index: int, time_s: float, pixels: Any) -> SampledFrame:
        """Hashed here, in the decode thread, to keep the event loop free."""
        digest = hashlib.sha256()
        _feed(digest, pixels)
        return cls(index, time_s, pixels, digest.hexdigest())


def _feed(digest: Any, value: Any) -> None:
    """Arrays by their bytes, shape and type; inputs by name; tuples in order."""
    if isinstance(value, np.ndarray):
        digest.update(f"{value.dtype}{value.shape}".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, Mapping):
        for name in sorted(value):
            digest.update(str(name).encode())
            _feed(digest, value[name])
    elif isinstance(value, tuple | list):
        for item in value:
            _feed(digest, item)
    else:
        digest.update(repr(value).encode())


class FrameSink:
    """Where a sampler puts each frame it decodes: prepared, hashed, kept and passed on at once.

    `emit` hands each frame over as soon as it is ready (the Detector queues it for the model
    while the next one decodes); called in the decode thread.
    """

    def __init__(
        self, prepare: Prepare, emit: Callable[[SampledFrame], None] | None = None
    ) -> None:
        self._prepare = prepare
        self._emit = emit
        self._frames: list[SampledFrame] = []

    @property
    def frames(self) -> tuple[SampledFrame, ...]:
        return tuple(self._frames)

    @property
    def last_index(self) -> int | None:
        return self._frames[-1].index if self._frames else None

    def add(self, index: int, time_s: float, image: Image.Image) -> None:
        frame = SampledFrame.of(index, time_s, self._prepare(image))
        self._frames.append(frame)
        if self._emit is not None:
            self._emit(frame)


@dataclass(frozen=True, slots=True)
class DecodedClip:
    """A clip's sampled frames as model input, in time order, and how it was sampled."""

    media: Media
    duration_s: float
    frames: tuple[SampledFrame, ...]
    planned: int  # frames the plan asked for; more than `len(frames)` if the budget ran out


def check_duration(duration_s: float, video: VideoSettings) -> None:
    if duration_s > video.max_duration_s:
        raise ClipTooLong(
            N_("the clip is too long ({duration}; limit {limit})"),
            duration=clock_text(duration_s),
            limit=clock_text(video.max_duration_s),
        )


def clock_text(seconds: float) -> str:
    """A time as a player shows it: 0:03, 12:40, 1:02:07 (whole seconds, rounded down)."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
