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
    """What the classifier says about one image, before a threshold is applied.

    From one model, `classes` holds every id2label class and its probability. From several
    (`core.ensemble`), `fake_probability` is their weighted mean, `classes` its two-way split
    (`fake`, `real`), and `models` each model's own scores in the configured order.
    """

    fake_probability: float
    classes: Mapping[str, float]
    models: tuple[ModelScores, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "classes", MappingProxyType(dict(self.classes)))
        object.__setattr__(self, "models", tuple(self.models))

    @property
    def real_probability(self) -> float:
        return 1.0 - self.fake_probability


@dataclass(frozen=True, slots=True)
class ModelScores:
    """One model's scores within an ensemble, under its configured name (hub id or folder)."""

    name: str
    scores: Scores

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "fake_probability": round(self.scores.fake_probability, 6),
            "classes": _rounded(self.scores.classes),
        }


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

    @property
    def models(self) -> tuple[ModelScores, ...]:
        """Each model's scores when several judged the image together; empty for one."""
        return self.scores.models

    def as_dict(self) -> dict[str, object]:
        """The JSON shape shared by `deepguard check --json` and the HTTP API.

        With several models it adds `models`: `[{"name", "fake_probability", "classes"}]`.
        """
        fields: dict[str, object] = {
            "fake_probability": round(self.fake_probability, 6),
            "real_probability": round(self.real_probability, 6),
            "verdict": self.verdict.value,
            "threshold": self.threshold,
            "classes": _rounded(self.classes),
            "sha256": self.sha256,
            "queue_ms": round(self.queue_ms, 2),
            "model_ms": round(self.model_ms, 2),
            "cached": self.cached,
        }
        if self.models:
            fields["models"] = [model.as_dict() for model in self.models]
        return fields


def _rounded(classes: Mapping[str, float]) -> dict[str, float]:
    return {name: round(p, 6) for name, p in classes.items()}


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
