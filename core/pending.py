"""What travels through the micro-batcher: a request with its own future, and the answer.

A future is answered once: whichever comes first (result, failure, the caller giving up) wins,
and the rest are no-ops.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from core.errors import ModelError

In = TypeVar("In")
Out = TypeVar("Out")


@dataclass(frozen=True, slots=True)
class Batched(Generic[Out]):
    value: Out
    queue_ms: float
    model_ms: float
    batch_size: int


@dataclass(slots=True)
class Pending(Generic[In, Out]):
    item: In
    future: asyncio.Future[Batched[Out]]
    enqueued: float
    deadline: float
    started: float = field(default=0.0)


def fail(pending: Pending[In, Out], error: Exception) -> None:
    if not pending.future.done():
        pending.future.set_exception(error)


def fail_batch(batch: list[Pending[In, Out]], cause: Exception) -> None:
    """Each waiter gets its own `ModelError`, caused by the batch's one failure."""
    for pending in batch:
        error = ModelError()
        error.__cause__ = cause
        fail(pending, error)


def answer_batch(batch: list[Pending[In, Out]], results: Sequence[Out], model_ms: float) -> None:
    for pending, value in zip(batch, results, strict=True):
        if not pending.future.done():
            queue_ms = (pending.started - pending.enqueued) * 1000
            pending.future.set_result(Batched(value, queue_ms, model_ms, len(batch)))
