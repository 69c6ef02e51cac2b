"""The value that crosses from the core to the adapters: one frozen `Judgement` per upload.

An upload is a still image, an animation or a video; a clip's `Judgement` describes the whole
clip, and its `Clip` lists the sampled frames. Besides the model's scores a judgement carries the
upload's own declarations (`Evidence`, read from its bytes by `core.provenance`). Evidence counts
one way only: a valid declaration of AI makes the verdict FAKE whatever the model says; nothing
ever makes it REAL.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Final


class Verdict(StrEnum):
    FAKE = "FAKE"
    REAL = "REAL"


class Media(StrEnum):
    """What an upload is, from its bytes."""

    IMAGE = "image"
    ANIMATION = "animation"  # GIF, animated WebP, APNG
    VIDEO = "video"  # MP4/MOV, WebM/MKV


class VerdictReason(StrEnum):
    """What decided the verdict: the model's probability, or the image's own declaration."""

    MODEL = "model"
    DECLARED = "declared"


class Source(StrEnum):
    """Where a declaration was read: Content Credentials, IPTC/XMP, or a generator's metadata."""

    C2PA = "c2pa"
    XMP = "xmp"
    METADATA = "metadata"


class Declares(StrEnum):
    AI_GENERATED = "ai-generated"
    AI_EDITED = "ai-edited"
    CAPTURED = "captured"
    EDITED = "edited"
    UNKNOWN = "unknown"


class State(StrEnum):
    """A C2PA manifest's validation: signed by a trusted signer, signed, or failing."""

    TRUSTED = "trusted"
    VALID = "valid"
    INVALID = "invalid"


_AI = frozenset({Declares.AI_GENERATED, Declares.AI_EDITED})
NAME_CHARS: Final = 80  # of a generator or signer name: they come from the image, so are capped
DETAIL_CHARS: Final = 200


@dataclass(frozen=True, slots=True)
class Evidence:
    """One declaration an image makes about itself, the only evidence besides the model."""

    source: Source
    declares: Declares
    generator: str | None = None
    signer: str | None = None
    state: State | None = None  # C2PA only
    detail: str = ""

    def __post_init__(self) -> None:
        """Names and details come from strangers' files: one printable line, capped."""
        object.__setattr__(self, "generator", _name(self.generator))
        object.__setattr__(self, "signer", _name(self.signer))
        object.__setattr__(self, "detail", _line(self.detail, DETAIL_CHARS))

    @property
    def declares_ai(self) -> bool:
        """Made or edited with AI, by a manifest that validates or by plain metadata."""
        return self.declares in _AI and self.state is not State.INVALID

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source.value,
            "declares": self.declares.value,
            "generator": self.generator,
            "signer": self.signer,
            "state": None if self.state is None else self.state.value,
            "detail": self.detail,
        }


def _line(text: str, limit: int) -> str:
    printable = "".join(
        " " if unicodedata.category(ch)[0] in "CZ" else ch for ch in text[: limit * 4]
    )
    single = " ".join(printable.split())
    return single if len(single) <= limit else single[: limit - 1] + "…"


def _name(text: str | None) -> str | None:
    return (_line(text, NAME_CHARS) or None) if text is not None else None


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
    provenance: tuple[Evidence, ...] = field(default=())
    verdict_reason: VerdictReason = VerdictReason.MODEL
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

    @property
    def declared_ai(self) -> bool:
        """The image itself declares that it was made or edited with AI."""
        return any(evidence.declares_ai for evidence in self.provenance)

    def with_policy(self, *, declared_ai_is_fake: bool) -> Judgement:
        """The same judgement decided under a chat's own `declared_ai_is_fake` choice."""
        verdict, reason = decide(
            self.fake_probability, self.threshold, self.declared_ai, declared_ai_is_fake
        )
        return replace(self, verdict=verdict, verdict_reason=reason)

    @property
    def models(self) -> tuple[ModelScores, ...]:
        """Each model's scores when several judged the image together; empty for one."""
        return self.scores.models

    def as_dict(self) -> dict[str, object]:
        """The JSON shape shared by `deepguard check --json` and the HTTP API.

        A clip adds its sampled `frames`, `duration_s` and `frames_decoded`; several models add
        `models`: `[{"name", "fake_probability", "classes"}]`.
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
            "provenance": [evidence.as_dict() for evidence in self.provenance],
            "declared_ai": self.declared_ai,
            "verdict_reason": self.verdict_reason.value,
            "media": self.media.value,
        }
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
        if self.models:
            fields["models"] = [model.as_dict() for model in self.models]
        return fields


def decide(
    fake_probability: float, threshold: float, declared_ai: bool, declared_ai_is_fake: bool
) -> tuple[Verdict, VerdictReason]:
    """FAKE at or above the threshold, as on the model card, or when the image declares AI."""
    if declared_ai and declared_ai_is_fake:
        return Verdict.FAKE, VerdictReason.DECLARED
    verdict = Verdict.FAKE if fake_probability >= threshold else Verdict.REAL
    return verdict, VerdictReason.MODEL


def _rounded(classes: Mapping[str, float]) -> dict[str, float]:
    return {name: round(p, 6) for name, p in classes.items()}


def judge_scores(
    scores: Scores,
    threshold: float,
    sha256: str,
    queue_ms: float = 0.0,
    model_ms: float = 0.0,
    *,
    provenance: tuple[Evidence, ...] = (),
    declared_ai_is_fake: bool = True,
    clip: Clip | None = None,
) -> Judgement:
    """Apply the threshold, and the upload's own declarations (see `decide`).

    A clip's verdict follows from its own fake probability (see `core.clips`) the same way.
    """
    judgement = Judgement(
        scores=scores,
        verdict=Verdict.REAL,
        threshold=threshold,
        sha256=sha256,
        queue_ms=queue_ms,
        model_ms=model_ms,
        provenance=provenance,
        clip=clip,
    )
    return judgement.with_policy(declared_ai_is_fake=declared_ai_is_fake)
