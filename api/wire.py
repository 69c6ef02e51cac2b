"""The HTTP contract of the inference API's answers, shared by `serve`, `serve --ray` and the
remote core.

A judgement travels as `JudgementAnswer` (`Judgement.as_dict()`, provenance included), an
explanation as `ExplanationAnswer`; failures are `api.refusals`'. The pydantic models are the
contract: the server answers through them, the OpenAPI document is generated from them, and the
client reads answers with them.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from core.explain import Explanation, FrameShown, Method, PatchMap
from core.result import (
    Clip,
    Declares,
    Evidence,
    FrameScore,
    Judgement,
    Media,
    ModelScores,
    Scores,
    Source,
    State,
    Verdict,
    VerdictReason,
)

CLASSIFY_PATH = "/v1/classify"
EXPLAIN_PATH = "/v1/explain"
PNG = "image/png"
# Not part of the JSON contract: how the map was made (`core.explain.Method`), on both answers.
METHOD_HEADER = "X-Explanation-Method"
# The PNG answer's only word on which moment of a clip it shows: the frame's seconds.
FRAME_TIME_HEADER = "X-DeepGuard-Frame-Time"


Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Milliseconds = Annotated[float, Field(ge=0.0)]


class EvidenceAnswer(BaseModel):
    """One declaration the image makes about itself (Content Credentials, XMP, metadata)."""

    model_config = ConfigDict(strict=True, json_schema_serialization_defaults_required=True)

    source: Literal["c2pa", "xmp", "metadata"]
    declares: Literal["ai-generated", "ai-edited", "captured", "edited", "unknown"]
    generator: str | None = None
    signer: str | None = None
    state: Literal["trusted", "valid", "invalid"] | None = Field(
        None,
        description="C2PA only: whether the manifest validates, and chains to a trust anchor.",
    )
    detail: str = ""

    def evidence(self) -> Evidence:
        return Evidence(
            source=Source(self.source),
            declares=Declares(self.declares),
            generator=self.generator,
            signer=self.signer,
            state=None if self.state is None else State(self.state),
            detail=self.detail,
        )


def _absent(value: object) -> bool:
    return value is None


class FrameAnswer(BaseModel):
    """One sampled frame of an animation or a video."""

    model_config = ConfigDict(strict=True)

    index: int = Field(ge=0, description="The frame's index in presentation order, from 0.")
    time_s: float = Field(ge=0.0, description="Seconds from the clip's first frame.")
    fake_probability: Probability


class ModelAnswer(BaseModel):
    """One model's own answer when several judged together (`DEEPGUARD_MODEL__NAME` a list)."""

    model_config = ConfigDict(strict=True)

    name: str = Field(description="The model as configured: a hub id or a folder.")
    fake_probability: Probability
    classes: dict[str, Probability] = Field(description="Every class of this model.")

    def scores(self) -> ModelScores:
        return ModelScores(self.name, Scores(self.fake_probability, self.classes))


class JudgementAnswer(BaseModel):
    """The judgement: the fields of `deepguard check --json`."""

    # Strict: a number sent as a string or a flag sent as a number is a broken server.
    model_config = ConfigDict(strict=True, json_schema_serialization_defaults_required=True)

    fake_probability: Probability
    real_probability: Probability
    verdict: Literal["FAKE", "REAL"]
    threshold: Probability = Field(description="The verdict is FAKE at or above it.")
    classes: dict[str, Probability] = Field(description="Every class of the model.")
    sha256: str = Field(pattern="^[0-9a-f]{64}$", description="Of the image bytes.")
    queue_ms: Milliseconds = 0.0
    model_ms: Milliseconds = 0.0
    cached: bool = False
    provenance: list[EvidenceAnswer] = Field(
        default_factory=list, description="What the image declares about itself, if anything."
    )
    declared_ai: bool = Field(False, description="A valid declaration says AI made or edited it.")
    verdict_reason: Literal["model", "declared"] = Field(
        "model", description="declared: the verdict follows the image's own AI declaration."
    )
    media: Literal["image", "animation", "video"] = Field(
        "image", description="What the upload was, from its bytes."
    )
    # Only for animations and videos: a still image answers without them.
    frames: list[FrameAnswer] | None = Field(
        None,
        exclude_if=_absent,
        description="Animations and videos: the sampled frames, in time order.",
    )
    duration_s: float | None = Field(
        None, ge=0.0, exclude_if=_absent, description="Animations and videos: their length."
    )
    frames_decoded: int | None = Field(
        None,
        ge=1,
        exclude_if=_absent,
        description="Frames judged; fewer than asked when the decode budget ran out.",
    )
    # Only with several models: one model answers without it.
    models: list[ModelAnswer] | None = Field(
        None,
        exclude_if=_absent,
        description="Several models: each one's answer, in the configured order.",
    )

    @classmethod
    def of(cls, judgement: Judgement) -> JudgementAnswer:
        return cls.model_validate(judgement.as_dict(), strict=False)

    def judgement(self) -> Judgement:
        return Judgement(
            scores=Scores(
                fake_probability=self.fake_probability,
                classes=self.classes,
                models=tuple(model.scores() for model in self.models or ()),
            ),
            verdict=Verdict(self.verdict),
            threshold=self.threshold,
            sha256=self.sha256,
            queue_ms=self.queue_ms,
            model_ms=self.model_ms,
            cached=self.cached,
            provenance=tuple(item.evidence() for item in self.provenance),
            verdict_reason=VerdictReason(self.verdict_reason),
            clip=self._clip(),
        )

    def _clip(self) -> Clip | None:
        if self.media == "image" or self.frames is None:
            return None
        frames = tuple(FrameScore(f.index, f.time_s, f.fake_probability) for f in self.frames)
        return Clip(
            Media(self.media),
            frames,
            self.duration_s or 0.0,
            frames_decoded=self.frames_decoded or len(frames),
        )


def judgement_to_json(judgement: Judgement) -> dict[str, object]:
    """`deepguard check --json`'s fields: enough for a client to rebuild the judgement whole."""
    return JudgementAnswer.of(judgement).model_dump()


def judgement_from_json(body: bytes) -> Judgement:
    """Rebuild a `Judgement` from an answer; raises `ValueError` if it is not one."""
    return JudgementAnswer.model_validate_json(body).judgement()


class ShownFrameAnswer(BaseModel):
    """The frame of an animation or a video that an explanation shows."""

    model_config = ConfigDict(strict=True)

    index: int = Field(ge=0, description="The frame's index in presentation order, from 0.")
    time_s: float = Field(ge=0.0, description="Seconds from the clip's first frame.")


class ExplanationAnswer(BaseModel):
    """`deepguard explain --json`'s fields without "file": `mean(grid) + bias` is the gap.

    The gap is the model's fake-minus-real logit difference; each grid cell (rows x cols, in
    logit units) is one patch's share of it.
    """

    model_config = ConfigDict(strict=True, json_schema_serialization_defaults_required=True)

    fake_probability: Probability
    rows: int = Field(ge=1)
    cols: int = Field(ge=1)
    grid: list[list[float]] = Field(description="rows lists of cols patch shares, in logits.")
    bias: float = Field(description="What the gap holds besides the patches.")
    media: Literal["image", "animation", "video"] = Field(
        "image", description="What the upload was, from its bytes."
    )
    # Only for animations and videos: a still image answers without it.
    frame: ShownFrameAnswer | None = Field(
        None,
        exclude_if=_absent,
        description="Animations and videos: the frame explained, their most suspicious one.",
    )

    @classmethod
    def of(cls, explanation: Explanation) -> ExplanationAnswer:
        return cls.model_validate(explanation.as_dict(), strict=False)

    def explanation(self, sha256: str, method: Method, png: bytes | None = None) -> Explanation:
        """The core's `Explanation` of the upload of `sha256`; raises `ValueError` if malformed."""
        grid = np.asarray(self.grid, dtype=np.float64)
        if grid.shape != (self.rows, self.cols):
            raise ValueError(f"a {grid.shape} grid is not {self.rows}x{self.cols}")
        if (self.media == "image") != (self.frame is None):
            raise ValueError(
                f"an explained {self.media} {'with' if self.frame else 'without'} a frame"
            )
        scores = Scores(fake_probability=self.fake_probability, classes={})
        frame = None if self.frame is None else FrameShown(self.frame.index, self.frame.time_s)
        patches = PatchMap(grid, self.bias, method)
        return Explanation(sha256, scores, patches, png, Media(self.media), frame)


class Alive(BaseModel):
    """The process answers."""

    status: Literal["alive"]


ReadyStatus = Literal["ready", "loading", "saturated", "stopping"]


class Readiness(BaseModel):
    """Whether classify requests are taken now, and how many wait for the model."""

    status: ReadyStatus
    depth: int = Field(ge=0, description="Requests queued for the model or in it.")
