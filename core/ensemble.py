"""Several classifiers judging each image together, each in its own lane.

A lane is one model with its own micro-batcher and model thread. An image is decoded once;
each model prepares it with its own processor (`core.decoding`, in a decode thread), and the
inputs go to every lane at once, so the models run side by side. The fake probability is the
weighted mean of the models' (`combine`); the verdict follows at the threshold as for one
model. With one model there is one lane and its answer passes through untouched: the
single-model path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from config import ModelSettings, QueueSettings
from core.backends import intra_op_threads, load_classifier
from core.batching import Batched, MicroBatcher
from core.result import ModelScores, Scores
from core.stats import Counters

if TYPE_CHECKING:  # the model stack (torch) is imported by `load_members` only
    from core.classifier import Classifier

T = TypeVar("T")
Prepared = tuple[Any, ...]  # one image's inputs for each model, in the members' order


@dataclass(frozen=True, slots=True)
class Member:
    """One model of the ensemble: its configured name, its classifier and its weight."""

    name: str
    classifier: Classifier[Any]
    weight: float = 1.0


def load_members(settings: ModelSettings) -> list[Member]:
    """Load every model in `DEEPGUARD_MODEL__NAME` (blocking: seconds per model).

    Several models share the cores: unless `threads` is set, each gets its share of them, so
    the lanes running side by side do not oversubscribe the CPU.
    """
    names = settings.names
    if settings.threads is None and len(names) > 1:
        share = max(1, intra_op_threads(settings) // len(names))
        settings = settings.model_copy(update={"threads": share})
    return [
        Member(name, load_classifier(settings.only(name)), weight)
        for name, weight in zip(names, settings.model_weights, strict=True)
    ]


def combine(members: Sequence[Member], scores: Sequence[Scores]) -> Scores:
    """The weighted mean of the models' fake probabilities, each model's scores kept."""
    total = sum(member.weight for member in members)
    fake = sum(m.weight * s.fake_probability for m, s in zip(members, scores, strict=True))
    fake = min(1.0, max(0.0, fake / total))
    return Scores(
        fake_probability=fake,
        classes={"fake": fake, "real": 1.0 - fake},
        models=tuple(ModelScores(m.name, s) for m, s in zip(members, scores, strict=True)),
    )


class Lanes:
    """A micro-batcher and a model thread per member; an image's inputs go to all at once."""

    def __init__(
        self, members: Sequence[Member], queue: QueueSettings, counters: Counters
    ) -> None:
        if not members:
            raise ValueError("an ensemble needs at least one model")
        self.members = tuple(members)
        self._threads = [
            ThreadPoolExecutor(1, "deepguard-model" + (f"-{i}" if i else ""))
            for i in range(len(members))
        ]
        self._batchers: list[MicroBatcher[Any, Scores]] = [
            MicroBatcher(
                member.classifier.predict,
                max_batch_size=queue.max_batch_size,
                max_wait_s=queue.max_wait_ms / 1000,
                max_pending=queue.max_pending,
                executor=thread,
                counters=counters,
            )
            for member, thread in zip(members, self._threads, strict=True)
        ]

    @property
    def depth(self) -> int:
        """Requests queued or in a model now, in the busiest lane."""
        return max(batcher.depth for batcher in self._batchers)

    def start(self) -> None:
        for batcher in self._batchers:
            batcher.start()

    async def submit(self, prepared: Prepared, timeout_s: float) -> Batched[Scores]:
        """Every model's answer, combined; the first failure fails the image.

        The timings are the slowest lane's: the lanes run side by side.
        """
        if len(self._batchers) == 1:
            return await self._batchers[0].submit(prepared[0], timeout_s)
        tasks = [
            asyncio.ensure_future(batcher.submit(inputs, timeout_s))
            for batcher, inputs in zip(self._batchers, prepared, strict=True)
        ]
        try:
            answers = await asyncio.gather(*tasks)
        finally:
            for task in tasks:  # after a failure the other lanes' answers are not needed
                task.cancel()
        return Batched(
            combine(self.members, [answer.value for answer in answers]),
            queue_ms=max(answer.queue_ms for answer in answers),
            model_ms=max(answer.model_ms for answer in answers),
            batch_size=max(answer.batch_size for answer in answers),
        )

    async def run_first(self, work: Callable[..., T], *args: Any) -> T:
        """Run `work` alone on the first model's thread, between its batches (explanations)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads[0], work, *args)

    async def close(self, drain_timeout_s: float) -> None:
        """Finish what every lane holds within the bound, fail the rest; stop the threads."""
        await asyncio.gather(*(batcher.close(drain_timeout_s) for batcher in self._batchers))
        for thread in self._threads:
            thread.shutdown(wait=False, cancel_futures=True)
