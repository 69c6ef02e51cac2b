"""Counters an operator reads to see what the detector is doing."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(slots=True)
class Counters:
    """Monotonic counts since start; `snapshot()` gives a plain copy for logs and metrics."""

    requests: int = 0
    cache_hits: int = 0
    shared: int = 0  # identical requests that joined one inference already in flight
    invalid: int = 0
    refused: int = 0
    timeouts: int = 0
    errors: int = 0
    batches: int = 0
    batch_sizes: Counter[int] = field(default_factory=Counter)

    def record_batch(self, size: int) -> None:
        self.batches += 1
        self.batch_sizes[size] += 1

    def snapshot(self) -> dict[str, object]:
        return {
            "requests": self.requests,
            "cache_hits": self.cache_hits,
            "shared": self.shared,
            "invalid": self.invalid,
            "refused": self.refused,
            "timeouts": self.timeouts,
            "errors": self.errors,
            "batches": self.batches,
            "batch_sizes": dict(sorted(self.batch_sizes.items())),
        }
