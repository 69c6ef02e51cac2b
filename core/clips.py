"""A clip's frames on their way through the model, and its answer from theirs.

Each sampled frame is queued for the model as soon as it is decoded (`FrameWaits`), so the
model works on a clip's first frames while its later ones decode. The clip's answer is the mean
of its most suspicious quarter of frames.

Why that and not the mean or the maximum of the frame probabilities:
- a face swapped into a few seconds of a clip shows in only some sampled frames, and the mean
  of all of them would dilute it below the threshold: two suspicious frames of eight are the
  top quarter, and count in full;
- the model is wrong on about one image in five, so over eight frames one frame scored high
  by chance is likely; the maximum would let that one noisy frame decide, while in the top
  quarter it is averaged with the next most suspicious frame and counts half.
The quarter is rounded up and is at least one frame (a one-frame clip is that frame). Every
class's probability is averaged over the same frames, so the classes keep summing to one and
agree with the fake probability; the verdict then follows at the threshold, as for a photo.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from core.batching import Batched
from core.result import (
    Clip,
    Evidence,
    FrameScore,
    Judgement,
    ModelScores,
    Scores,
    judge_scores,
)
from core.sampling import DecodedClip, SampledFrame

Score = Callable[[SampledFrame], Coroutine[Any, Any, Batched[Scores]]]


class FrameWaits:
    """A task per sampled frame, started on the loop as the decoder hands each one over.

    A frame identical to one already started in this clip (a still scene) shares its task:
    the first may be answered before the second decodes, past what single-flight can join.
    """

    def __init__(self, score: Score) -> None:
        self._score = score
        self._tasks: list[asyncio.Task[Batched[Scores]]] = []
        self._by_digest: dict[str, asyncio.Task[Batched[Scores]]] = {}
        self._closed = False

    def start(self, frame: SampledFrame) -> None:
        """Queue one frame; after `abandon` (the decoder may still be running) none is."""
        if self._closed:
            return
        task = self._by_digest.get(frame.digest)
        if task is None:
            task = self._by_digest[frame.digest] = asyncio.create_task(self._score(frame))
        self._tasks.append(task)

    async def results(self, expected: int) -> list[Batched[Scores]]:
        """Every frame's answer, in order; the first failure stops the others and is raised."""
        if len(self._tasks) != expected:
            self.abandon()
            raise RuntimeError(f"{len(self._tasks)} of {expected} frames queued; this is a bug")
        try:
            await asyncio.wait(self._tasks, return_when=asyncio.FIRST_EXCEPTION)
        except asyncio.CancelledError:
            self.abandon()
            raise
        for task in self._tasks:
            error = None if not task.done() or task.cancelled() else task.exception()
            if error is not None:
                self.abandon()
                raise error  # e.g. Overloaded: the clip's one reason
        return [task.result() for task in self._tasks]

    def abandon(self) -> None:
        """Stop every frame still waiting: the clip failed, or its caller left."""
        self._closed = True
        for task in self._tasks:
            if not task.done():
                task.cancel()
            elif not task.cancelled():
                task.exception()  # retrieved: the clip reports one failure, not one per frame


def top_quarter(frames: Sequence[Scores]) -> Scores:
    """The clip's scores: each class averaged over its most suspicious quarter of frames."""
    if not frames:
        raise ValueError("a clip needs at least one scored frame; this is a bug")
    count = max(1, math.ceil(len(frames) / 4))
    top = sorted(frames, key=lambda scores: scores.fake_probability, reverse=True)[:count]
    classes = {name: sum(s.classes[name] for s in top) / count for name in top[0].classes}
    # Several models: each model's clip score is its own most suspicious quarter.
    models = tuple(
        ModelScores(model.name, top_quarter([s.models[i].scores for s in frames]))
        for i, model in enumerate(frames[0].models)
    )
    return Scores(sum(s.fake_probability for s in top) / count, classes, models)


def clip_judgement(
    decoded: DecodedClip,
    scored: Sequence[Batched[Scores]],
    threshold: float,
    sha256: str,
    *,
    provenance: tuple[Evidence, ...] = (),
    declared_ai_is_fake: bool = True,
) -> Judgement:
    """The whole clip's `Judgement`, its frames in time order.

    The frames were judged concurrently, so the clip waited as long as its slowest frame:
    its queue and model times are the largest of its frames'.
    """
    frames = tuple(
        FrameScore(frame.index, frame.time_s, result.value.fake_probability)
        for frame, result in zip(decoded.frames, scored, strict=True)
    )
    clip = Clip(decoded.media, frames, decoded.duration_s, frames_decoded=len(frames))
    return judge_scores(
        top_quarter([result.value for result in scored]),
        threshold,
        sha256,
        queue_ms=max(result.queue_ms for result in scored),
        model_ms=max(result.model_ms for result in scored),
        provenance=provenance,
        declared_ai_is_fake=declared_ai_is_fake,
        clip=clip,
    )
