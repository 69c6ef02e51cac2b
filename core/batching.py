"""Micro-batching: many single awaits in, one blocking batch call out (TEI/Ray Serve style).

Each request carries its own future through a bounded queue. The loop takes the first request,
waits at most `max_wait` for more (up to `max_batch_size`), drops callers that gave up or are
past their deadline, runs the batch in a worker thread and answers every future. A failing
batch fails each of its waiters and the loop goes on with the next one. Queue time and model
time are measured apart. Outcomes are counted by the caller (the Detector counts per request);
the batcher counts only batches and their sizes.

A future is answered once: whichever comes first (result, failure, the caller giving up) wins,
and the rest are no-ops.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from core.errors import ModelError, Overloaded, RequestTimeout, ShuttingDown
from core.stats import Counters

log = logging.getLogger(__name__)

In = TypeVar("In")
Out = TypeVar("Out")


@dataclass(frozen=True, slots=True)
class Batched(Generic[Out]):
    """One request's answer, with how long it queued, how long its batch took, and its size."""

    value: Out
    queue_ms: float
    model_ms: float
    batch_size: int


@dataclass(slots=True)
class _Pending(Generic[In, Out]):
    item: In
    future: asyncio.Future[Batched[Out]]
    enqueued: float
    deadline: float
    started: float = field(default=0.0)


class MicroBatcher(Generic[In, Out]):
    """Groups single `submit` calls into calls of one blocking batch function."""

    def __init__(
        self,
        predict: Callable[[Sequence[In]], Sequence[Out]],
        *,
        max_batch_size: int,
        max_wait_s: float,
        max_pending: int,
        executor: Executor | None = None,
        counters: Counters | None = None,
    ) -> None:
        self._predict = predict
        self._max_batch_size = max_batch_size
        self._max_wait_s = max_wait_s
        self._queue: asyncio.Queue[_Pending[In, Out]] = asyncio.Queue(max_pending)
        self._executor = executor
        self._counters = counters or Counters()
        self._task: asyncio.Task[None] | None = None
        self._batch: list[_Pending[In, Out]] = []
        self._closing = False

    @property
    def depth(self) -> int:
        """Requests waiting, being gathered into a batch, or in the model now."""
        return self._queue.qsize() + len(self._batch)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="deepguard-batcher")
            self._task.add_done_callback(_log_crash)

    async def submit(self, item: In, timeout_s: float) -> Batched[Out]:
        """Queue `item` and wait at most `timeout_s` for its share of a batch.

        Raises `Overloaded` at once when the queue is full, `RequestTimeout` at the deadline
        (the item is then skipped, or its result dropped), `ModelError` if its batch failed
        and `ShuttingDown` when the batcher is not running.
        """
        if self._closing or self._task is None or self._task.done():
            raise ShuttingDown()
        loop = asyncio.get_running_loop()
        now = loop.time()
        pending = _Pending(item, loop.create_future(), enqueued=now, deadline=now + timeout_s)
        try:
            self._queue.put_nowait(pending)
        except asyncio.QueueFull:
            raise Overloaded() from None
        try:
            # Leaving cancels the future (on timeout or when the caller is cancelled), and the
            # loop skips cancelled futures.
            async with asyncio.timeout_at(pending.deadline):
                return await pending.future
        except TimeoutError:
            raise RequestTimeout() from None

    async def close(self, drain_timeout_s: float) -> None:
        """Refuse new work, finish what is queued within the bound, fail the rest."""
        self._closing = True
        if self._task is None:
            return
        if not self._task.done():
            try:
                await asyncio.wait_for(self._queue.join(), drain_timeout_s)
            except TimeoutError:
                log.warning(
                    "shutdown: %d requests not finished in %.1f s", self.depth, drain_timeout_s
                )
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        for pending in self._drain_queue():
            _fail(pending, ShuttingDown())

    def _drain_queue(self) -> list[_Pending[In, Out]]:
        left = []
        while not self._queue.empty():
            left.append(self._queue.get_nowait())
            self._queue.task_done()
        return left

    async def _run(self) -> None:
        while True:
            # The batch is owned here from its first item, so a cancel while it is still
            # filling (shutdown) answers it instead of losing requests already dequeued.
            batch: list[_Pending[In, Out]] = []
            self._batch = batch
            try:
                await self._fill(batch)
                live = self._live(batch)
                if live:
                    await self._serve(live)
            finally:
                self._batch = []
                for pending in batch:
                    _fail(pending, ShuttingDown())  # only reached unanswered when cancelled
                    self._queue.task_done()

    async def _fill(self, batch: list[_Pending[In, Out]]) -> None:
        batch.append(await self._queue.get())
        deadline = asyncio.get_running_loop().time() + self._max_wait_s
        while len(batch) < self._max_batch_size:
            try:
                async with asyncio.timeout_at(deadline):
                    batch.append(await self._queue.get())
            except TimeoutError:
                break

    def _live(self, batch: list[_Pending[In, Out]]) -> list[_Pending[In, Out]]:
        """Callers that gave up need no answer; callers past their deadline get a timeout."""
        now = asyncio.get_running_loop().time()
        live = []
        for pending in batch:
            if pending.future.done():
                continue
            if now >= pending.deadline:
                _fail(pending, RequestTimeout())
                continue
            pending.started = now
            live.append(pending)
        return live

    async def _serve(self, batch: list[_Pending[In, Out]]) -> None:
        loop = asyncio.get_running_loop()
        self._counters.record_batch(len(batch))
        try:
            results, model_ms = await loop.run_in_executor(
                self._executor, self._timed_predict, [p.item for p in batch]
            )
            if len(results) != len(batch):
                raise RuntimeError(
                    f"batch of {len(batch)} gave {len(results)} results; this is a bug"
                )
        except Exception as exc:
            log.exception("model failed on a batch of %d", len(batch))
            _fail_batch(batch, exc)
            return
        _answer_batch(batch, results, model_ms)

    def _timed_predict(self, items: list[In]) -> tuple[Sequence[Out], float]:
        """Timed in the worker thread, so model time leaves out the hand-off to it."""
        started = time.perf_counter()
        results = self._predict(items)
        return results, (time.perf_counter() - started) * 1000


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("the batching loop stopped; this is a bug", exc_info=task.exception())


def _fail(pending: _Pending[In, Out], error: Exception) -> None:
    if not pending.future.done():
        pending.future.set_exception(error)


def _fail_batch(batch: list[_Pending[In, Out]], cause: Exception) -> None:
    """Each waiter gets its own `ModelError`, caused by the batch's one failure."""
    for pending in batch:
        error = ModelError()
        error.__cause__ = cause
        _fail(pending, error)


def _answer_batch(batch: list[_Pending[In, Out]], results: Sequence[Out], model_ms: float) -> None:
    for pending, value in zip(batch, results, strict=True):
        if not pending.future.done():
            queue_ms = (pending.started - pending.enqueued) * 1000
            pending.future.set_result(Batched(value, queue_ms, model_ms, len(batch)))
