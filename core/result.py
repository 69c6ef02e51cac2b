"""The value that crosses from the core to the adapters: one frozen `Judgement` per image."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType


class Verdict(StrEnum):
    FAKE = "FAKE"
    REAL = "REAL"


@dataclass(frozen=True, slots=True)
class Signal:
    """An extra piece of evidence besides the classifier, e.g. C2PA provenance (later issues)."""

    name: str
    value: str | float | bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Scores:
    """What the classifier says about one image, before a threshold is applied."""

    fake_probability: float
    classes: Mapping[str, float]  # every id2label class and its probability

    def __post_init__(self) -> None:
        object.__setattr__(self, "classes", MappingProxyType(dict(self.classes)))

    @property
    def real_probability(self) -> float:
        return 1.0 - self.fake_probability


@dataclass(frozen=True, slots=True)
class Judgement:
    """The core's answer: a probability and a verdict, a signal and never proof."""

    scores: Scores
    verdict: Verdict
    threshold: float
    sha256: str
    queue_ms: float = 0.0
    model_ms: float = 0.0
    cached: bool = False
    signals: tuple[Signal, ...] = field(default=())

    @property
    def fake_probability(self) -> float:
        return self.scores.fake_probability

    @property
    def real_probability(self) -> float:
        return self.scores.real_probability

    @property
    def classes(self) -> Mapping[str, float]:
        return self.scores.classes

    def as_dict(self) -> dict[str, object]:
        """The JSON shape shared by `deepguard check --json` and the HTTP API."""
        return {
            "fake_probability": round(self.fake_probability, 6),
            "real_probability": round(self.real_probability, 6),
            "verdict": self.verdict.value,
            "threshold": self.threshold,
            "classes": {name: round(p, 6) for name, p in self.classes.items()},
            "sha256": self.sha256,
            "queue_ms": round(self.queue_ms, 2),
            "model_ms": round(self.model_ms, 2),
            "cached": self.cached,
        }


def judge_scores(
    scores: Scores, threshold: float, sha256: str, queue_ms: float = 0.0, model_ms: float = 0.0
) -> Judgement:
    """Apply the threshold: at or above it the verdict is FAKE, as on the model card."""
    verdict = Verdict.FAKE if scores.fake_probability >= threshold else Verdict.REAL
    return Judgement(
        scores=scores,
        verdict=verdict,
        threshold=threshold,
        sha256=sha256,
        queue_ms=queue_ms,
        model_ms=model_ms,
    )
