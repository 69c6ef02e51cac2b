"""Track the handler tasks in flight, so a stop that runs out of time can cancel them.

PTB's `Application.stop()` waits for every update being handled, however long that takes;
the adapter gives it a grace period and then cancels what is left through this registry.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any


class InFlight:
    """Wrap a handler's body in `track()`; `cancel_all()` once the grace period is over."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    @contextlib.contextmanager
    def track(self) -> Iterator[None]:
        task = asyncio.current_task()
        if task is None:
            yield
            return
        self._tasks.add(task)
        try:
            yield
        finally:
            self._tasks.discard(task)

    def cancel_all(self) -> int:
        for task in self._tasks:
            task.cancel()
        return len(self._tasks)
