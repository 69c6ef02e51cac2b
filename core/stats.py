"""Counters an operator reads to see what the detector is doing."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from core.errors import (
    DeepGuardError,
    InvalidImage,
    ModelError,
    Overloaded,
    RequestTimeout,
    ShuttingDown,
)


@dataclass(slots=True)
class Counters:
    """Monotonic counts since start; `snapshot()` gives a plain copy for logs and metrics.

    Request outcomes are counted once per caller (identical requests sharing one inference
    count as several); `batches` and `batch_sizes` count model calls.
    """

    requests: int = 0
    cache_hits: int = 0
    shared: int = 0  # identical requests that joined one inference already in flight
    invalid: int = 0  # refused uploads: too large, unsupported, corrupt
    refused: int = 0  # turned away because the queue was full
    timeouts: int = 0
    errors: int = 0  # the model failed
    shutting_down: int = 0  # refused or dropped because the service was stopping
    batches: int = 0
    batch_sizes: Counter[int] = field(default_factory=Counter)

    def record_batch(self, size: int) -> None:
        self.batches += 1
        self.batch_sizes[size] += 1

    def record_failure(self, error: DeepGuardError) -> None:
        if isinstance(error, InvalidImage):
            self.invalid += 1
        elif isinstance(error, Overloaded):
            self.refused += 1
        elif isinstance(error, RequestTimeout):
            self.timeouts += 1
        elif isinstance(error, ModelError):
            self.errors += 1
        elif isinstance(error, ShuttingDown):
            self.shutting_down += 1

    def snapshot(self) -> dict[str, object]:
        return {
            "requests": self.requests,
            "cache_hits": self.cache_hits,
            "shared": self.shared,
            "invalid": self.invalid,
            "refused": self.refused,
            "timeouts": self.timeouts,
            "errors": self.errors,
            "shutting_down": self.shutting_down,
            "batches": self.batches,
            "batch_sizes": dict(sorted(self.batch_sizes.items())),
        }
