"""The value that crosses from the core to the adapters: one frozen `Judgement` per upload.

An upload is a still image, an animation or a video; a clip's `Judgement` describes the whole
clip, and its `Clip` lists the sampled frames.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType


class Verdict(StrEnum):
    FAKE = "FAKE"
    REAL = "REAL"


class Media(StrEnum):
    """What an upload is, from its bytes."""

    IMAGE = "image"
    ANIMATION = "animation"  # GIF, animated WebP, APNG
    VIDEO = "video"  # MP4/MOV, WebM/MKV


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
class FrameScore:
    """One sampled frame of a clip: where it is and what the model said about it."""

    index: int  # in presentation order, from 0
    time_s: float  # from the clip's first frame
    fake_probability: float


@dataclass(frozen=True, slots=True)
class Clip:
    """How an animation or a video was judged: its sampled frames, in time order."""

    media: Media
    frames: tuple[FrameScore, ...]
    duration_s: float
    frames_decoded: int  # fewer than asked when the decode budget ran out

    @property
    def most_suspicious(self) -> FrameScore:
        """The frame with the highest fake probability (the earliest among equals)."""
        return max(self.frames, key=lambda frame: (frame.fake_probability, -frame.time_s))


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
    clip: Clip | None = None  # None for a still image

    @property
    def media(self) -> Media:
        return Media.IMAGE if self.clip is None else self.clip.media

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

    def upload_dict(self) -> dict[str, object]:
        """`deepguard check --json`'s object: `as_dict()`, `media` and, for a clip, its frames.

        The HTTP API still answers `as_dict()`; its wire format moves to this in a later step.
        """
        fields = {**self.as_dict(), "media": self.media.value}
        if self.clip is not None:
            fields["frames"] = [
                {
                    "index": frame.index,
                    "time_s": round(frame.time_s, 3),
                    "fake_probability": round(frame.fake_probability, 6),
                }
                for frame in self.clip.frames
            ]
            fields["duration_s"] = round(self.clip.duration_s, 3)
            fields["frames_decoded"] = self.clip.frames_decoded
        return fields


def judge_scores(
    scores: Scores,
    threshold: float,
    sha256: str,
    queue_ms: float = 0.0,
    model_ms: float = 0.0,
    clip: Clip | None = None,
) -> Judgement:
    """Apply the threshold: at or above it the verdict is FAKE, as on the model card.

    A clip's verdict follows from its own fake probability (see `core.clips`) the same way.
    """
    verdict = Verdict.FAKE if scores.fake_probability >= threshold else Verdict.REAL
    return Judgement(
        scores=scores,
        verdict=verdict,
        threshold=threshold,
        sha256=sha256,
        queue_ms=queue_ms,
        model_ms=model_ms,
        clip=clip,
    )
