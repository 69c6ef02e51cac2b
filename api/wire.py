"""The HTTP contract of the inference API, shared by `serve`, `serve --ray` and the remote core.

A judgement travels as `JudgementAnswer` (`Judgement.as_dict()`, provenance included); a failure as
an `ErrorAnswer`, `{"error": code, "message": text}`, with the status from `ERRORS`. The codes,
not the statuses, carry the exact error class back, so a bot using a remote core replies exactly
as with a local one; statuses alone (a proxy's 502, Ray's own 503) are mapped by
`error_for_status`. The pydantic models are the contract: the server answers through them, the
OpenAPI document is generated from them, and the client reads answers with them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from core.errors import (
    N_,
    ClipTooLarge,
    ClipTooLong,
    CorruptImage,
    DamagedClip,
    DeepGuardError,
    ExplanationUnavailable,
    ImageTooLarge,
    InvalidImage,
    ModelError,
    NoPicture,
    Overloaded,
    RequestTimeout,
    ShuttingDown,
    UnsupportedClip,
    UnsupportedImage,
)
from core.explain import Explanation, Method, PatchMap
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
MAX_MESSAGE_CHARS = 300


class Unavailable(ShuttingDown):
    """The API is up but cannot judge yet (the model is still loading)."""

    default_message = N_("the image service is starting; please try again in a minute")


class Unauthorized(ModelError):
    """The API refused our credentials: an operator's mistake, not the user's."""

    default_message = N_(
        "the image service is not set up correctly; please tell the bot's operator"
    )


class SlowUpload(RequestTimeout):
    """The request body did not arrive whole within the server's read timeout."""

    default_message = N_("the image took too long to arrive; please try again")


@dataclass(frozen=True, slots=True)
class ErrorKind:
    code: str
    status: int
    error: type[DeepGuardError]
    retry: bool = False  # answered with Retry-After: trying again later may work


# Subclasses before their parents: the first match names an error. A clip's refusals have their
# own codes under their parent's status, so a client that knows only the image codes still
# sorts them by status.
ERRORS: tuple[ErrorKind, ...] = (
    ErrorKind("clip_too_large", 413, ClipTooLarge),
    ErrorKind("clip_too_long", 413, ClipTooLong),
    ErrorKind("too_large", 413, ImageTooLarge),
    ErrorKind("unsupported_clip", 415, UnsupportedClip),
    ErrorKind("unsupported", 415, UnsupportedImage),
    ErrorKind("damaged_clip", 400, DamagedClip),
    ErrorKind("corrupt", 400, CorruptImage),
    ErrorKind("no_picture", 400, NoPicture),
    ErrorKind("invalid", 400, InvalidImage),
    ErrorKind("overloaded", 429, Overloaded, retry=True),
    ErrorKind("unavailable", 503, Unavailable, retry=True),
    ErrorKind("shutting_down", 503, ShuttingDown, retry=True),
    ErrorKind("read_timeout", 408, SlowUpload),
    ErrorKind("timeout", 504, RequestTimeout),
    ErrorKind("unauthorized", 401, Unauthorized),
    ErrorKind("unexplainable", 422, ExplanationUnavailable),
    ErrorKind("model_error", 500, ModelError),
    ErrorKind("error", 500, DeepGuardError),
)
_BY_CODE = {kind.code: kind for kind in ERRORS}
# Codes of answers the HTTP layer gives itself, besides those of `ERRORS`.
HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 500: "internal"}


def kind_of(error: DeepGuardError) -> ErrorKind:
    return next(kind for kind in ERRORS if isinstance(error, kind.error))


def error_body(error: DeepGuardError) -> dict[str, str]:
    return {"error": kind_of(error).code, "message": error.message}


def error_for_answer(status: int, body: object) -> DeepGuardError:
    """The error an answer stands for: by its code when it has one, else by its status."""
    if isinstance(body, Mapping):
        kind = _BY_CODE.get(str(body.get("error")))
        message = body.get("message")
        if kind is not None and kind.error is Unauthorized:
            return Unauthorized()  # the server's text is for operators; ours is for users
        if kind is not None:
            text = message[:MAX_MESSAGE_CHARS] if isinstance(message, str) else None
            return kind.error(text or None)
    return error_for_status(status)


def error_for_status(status: int) -> DeepGuardError:
    if status in (429, 503):
        return Overloaded()
    if status in (401, 403):
        return Unauthorized()
    by_status = {
        413: ImageTooLarge,
        415: UnsupportedImage,
        400: InvalidImage,
        408: RequestTimeout,
        504: RequestTimeout,
        422: ExplanationUnavailable,
    }
    return by_status.get(status, ModelError)()


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

    @classmethod
    def of(cls, explanation: Explanation) -> ExplanationAnswer:
        return cls.model_validate(explanation.as_dict(), strict=False)

    def explanation(self, sha256: str, method: Method, png: bytes | None = None) -> Explanation:
        """The core's `Explanation` of the image of `sha256`; raises `ValueError` if malformed."""
        grid = np.asarray(self.grid, dtype=np.float64)
        if grid.shape != (self.rows, self.cols):
            raise ValueError(f"a {grid.shape} grid is not {self.rows}x{self.cols}")
        scores = Scores(fake_probability=self.fake_probability, classes={})
        return Explanation(sha256, scores, PatchMap(grid, self.bias, method), png)


class ErrorAnswer(BaseModel):
    """A refusal or failure."""

    error: str = Field(description="Names the error class.")
    message: str = Field(description="Safe to show a user.")


class InvalidAnswer(ErrorAnswer):
    """Corrupt or unreadable image or clip, a video without a picture, or a request that is not
    an upload (no file, bad form)."""

    error: Literal["damaged_clip", "corrupt", "no_picture", "invalid"]


class UnauthorizedAnswer(ErrorAnswer):
    """Missing or wrong bearer token."""

    error: Literal["unauthorized"]


class NotFoundAnswer(ErrorAnswer):
    """No such path."""

    error: Literal["not_found"]


class MethodNotAllowedAnswer(ErrorAnswer):
    """The path exists, with another method (named in Allow)."""

    error: Literal["method_not_allowed"]


class ReadTimeoutAnswer(ErrorAnswer):
    """The body did not arrive whole within the read timeout."""

    error: Literal["read_timeout"]


class TooLargeAnswer(ErrorAnswer):
    """Image over the byte, pixel or side limit; a video over its byte cap or a clip too long."""

    error: Literal["clip_too_large", "clip_too_long", "too_large"]


class UnsupportedAnswer(ErrorAnswer):
    """Not an image format that is decoded, not sent as an upload, or a video codec not decoded."""

    error: Literal["unsupported_clip", "unsupported"]


class OverloadedAnswer(ErrorAnswer):
    """Too many requests waiting; retry after Retry-After."""

    error: Literal["overloaded"]


class FailedAnswer(ErrorAnswer):
    """The model or the server failed."""

    error: Literal["model_error", "error", "internal"]


class UnavailableAnswer(ErrorAnswer):
    """Starting (model loading) or shutting down; retry after Retry-After."""

    error: Literal["unavailable", "shutting_down"]


class UnexplainableAnswer(ErrorAnswer):
    """This model and backend cannot explain any image (the deployment's limit, not a fault)."""

    error: Literal["unexplainable"]


class TimeoutAnswer(ErrorAnswer):
    """Not judged within the request timeout."""

    error: Literal["timeout"]


# The answer of each error status: every code of `ERRORS` and `HTTP_CODES` under its status.
ERROR_ANSWERS: dict[int, type[ErrorAnswer]] = {
    400: InvalidAnswer,
    401: UnauthorizedAnswer,
    404: NotFoundAnswer,
    405: MethodNotAllowedAnswer,
    408: ReadTimeoutAnswer,
    413: TooLargeAnswer,
    415: UnsupportedAnswer,
    429: OverloadedAnswer,
    500: FailedAnswer,
    422: UnexplainableAnswer,
    503: UnavailableAnswer,
    504: TimeoutAnswer,
}


class Alive(BaseModel):
    """The process answers."""

    status: Literal["alive"]


ReadyStatus = Literal["ready", "loading", "saturated", "stopping"]


class Readiness(BaseModel):
    """Whether classify requests are taken now, and how many wait for the model."""

    status: ReadyStatus
    depth: int = Field(ge=0, description="Requests queued for the model or in it.")
