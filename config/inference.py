"""Settings of the inference core: the model, the micro-batching queue, image and clip
limits, and what an image's own declarations (Content Credentials, metadata) count for."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, FilePath, ValidationInfo, field_validator
from pydantic_settings import NoDecode

MiB = 1024 * 1024


class ModelSettings(BaseModel):
    """Which classifier (or classifiers, judged together) to load and how to run them."""

    name: str = Field(
        "king1oo1/deepfake-model",
        description="Hugging Face hub id or a local directory holding config and weights; "
        "several, comma-separated, judge each image together (their weighted mean).",
    )
    weights: Annotated[tuple[float, ...] | None, NoDecode] = Field(
        None,
        description="Weights of the models in DEEPGUARD_MODEL__NAME, comma-separated, in "
        "the same order; default equal.",
    )
    revision: str | None = Field(None, description="Hub branch, tag or commit to pin.")
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="Where the model runs; auto takes a GPU when there is one."
    )
    threads: int | None = Field(
        None,
        ge=1,
        description="Intra-op threads (torch and ONNX Runtime); default all usable cores, "
        "shared out between the models when there are several.",
    )
    offline: bool = Field(False, description="Never contact the hub; use the local cache only.")
    cache_dir: Path | None = Field(None, description="Where hub downloads are kept.")
    fake_label: str | None = Field(
        None,
        description="Name in id2label of the fake class, when its name is not recognised "
        "(applies to every model named).",
    )
    threshold: float = Field(
        0.5, ge=0.0, le=1.0, description="Fake probability at which the verdict is FAKE."
    )
    backend: Literal["torch", "torch-int8", "torch-bf16", "onnx", "onnx-int8"] = Field(
        "torch",
        description="torch (exact), torch-int8 (dynamic int8 Linear layers), torch-bf16 (CPUs "
        "with native bf16, or CUDA), onnx or onnx-int8 (ONNX Runtime; exported once and cached, "
        "needs the onnx extra). `deepguard backends` measures them on this machine.",
    )
    dtype: Literal["float32", "float16", "bfloat16"] = Field(
        "float32", description="Weights' type on CUDA with the torch backend; CPU stays float32."
    )
    onnx_cache_dir: Path | None = Field(
        None, description="Where exported ONNX models are kept; default beside the weights."
    )

    @field_validator("name")
    @classmethod
    def _model_names(cls, name: str) -> str:
        names = _split(name)
        if not names:
            raise ValueError("name at least one model (a hub id or a directory)")
        if len(set(names)) != len(names):
            raise ValueError("a model is named twice")
        return ",".join(names)

    @field_validator("weights", mode="before")
    @classmethod
    def _comma_separated(cls, weights: object) -> object:
        if isinstance(weights, str):
            return tuple(_split(weights)) or None
        return weights

    @field_validator("weights")
    @classmethod
    def _one_weight_per_model(
        cls, weights: tuple[float, ...] | None, info: ValidationInfo
    ) -> tuple[float, ...] | None:
        if weights is None:
            return None
        count = len(_split(info.data.get("name", "")))
        if count and len(weights) != count:
            raise ValueError(
                f"needs one weight per model in the name ({count}), not {len(weights)}"
            )
        if any(w < 0 for w in weights) or sum(weights) <= 0:
            raise ValueError("weights must be zero or more, and not all zero")
        return weights

    @property
    def names(self) -> tuple[str, ...]:
        """The models to load, in order: one, or several judged together."""
        return tuple(_split(self.name))

    @property
    def model_weights(self) -> tuple[float, ...]:
        """One weight per name; equal unless set."""
        return self.weights or (1.0,) * len(self.names)

    def only(self, name: str) -> ModelSettings:
        """These settings for one of the models, as a single-model configuration."""
        return self.model_copy(update={"name": name, "weights": None})


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


class QueueSettings(BaseModel):
    """Micro-batching: how long a request may wait to share a batch, and how many may wait."""

    max_batch_size: int = Field(8, ge=1, description="Most images run through the model at once.")
    max_wait_ms: float = Field(
        10.0, ge=0.0, description="Longest a request waits for others to share its batch."
    )
    max_pending: int = Field(64, ge=1, description="Queued requests before new ones are refused.")
    max_admitted: int = Field(
        64,
        ge=1,
        description="Uploads in hand at once in the bots (downloading, decoding or queued); "
        "past it an image gets the busy answer instead of holding memory.",
    )
    request_timeout_s: float = Field(
        30.0, gt=0.0, description="A request not judged by then fails with a timeout."
    )
    drain_timeout_s: float = Field(8.0, ge=0.0, description="Time to finish queued work on exit.")
    cache_size: int = Field(1024, ge=0, description="Results kept by SHA-256; 0 turns it off.")
    decode_workers: int = Field(2, ge=1, description="Threads that decode images.")
    near_duplicate_distance: int | None = Field(
        None,
        ge=0,
        le=32,
        description="Answer an image from the cache when its perceptual hash is within "
        "this many bits (of 64) of one already judged; unset turns it off.",
    )


class ImageLimits(BaseModel):
    """What an upload may be before it is refused without decoding."""

    max_bytes: int = Field(25 * MiB, ge=1, description="Largest upload, in bytes.")
    max_pixels: int = Field(
        40_000_000, ge=1, description="Most pixels, checked from the header before decoding."
    )
    max_side: int = Field(16_384, ge=1, description="Longest side, in pixels.")
    fast_decode: bool = Field(
        False,
        description="Decode JPEGs at a reduced scale (at least twice the model's input "
        "size): several times faster, pixels change slightly.",
    )


class ProvenanceSettings(BaseModel):
    """What an image declares about itself: Content Credentials, IPTC and generator metadata."""

    trust_anchors: FilePath | None = Field(
        None,
        description="PEM file of the certificate authorities whose C2PA signers are trusted; "
        "unset: the public C2PA trust list shipped with DeepGuard. Never downloaded.",
    )
    declared_ai_is_fake: bool = Field(
        True,
        description="An image whose valid Content Credentials or metadata declare AI is FAKE "
        "whatever the model says (the default for chats that did not choose).",
    )

    @field_validator("trust_anchors")
    @classmethod
    def _pem(cls, path: Path | None) -> Path | None:
        if path is not None and b"-----BEGIN CERTIFICATE-----" not in path.read_bytes():
            raise ValueError("must be a PEM file of CA certificates")
        return path


class VideoSettings(BaseModel):
    """Animations (GIF, WebP, APNG) and videos (MP4/MOV, WebM/MKV): sampling and caps.

    Frames keep the image limits' pixel and side caps; animations keep the image byte cap.
    """

    frames: int = Field(
        8, ge=1, le=64, description="Frames judged per clip, evenly spaced in time."
    )
    max_bytes: int = Field(50 * MiB, ge=1, description="Largest video upload, in bytes.")
    max_duration_s: float = Field(
        600.0, gt=0.0, description="Longest clip, in seconds (read from its header)."
    )
    decode_budget_s: float = Field(
        4.0,
        gt=0.0,
        description="Seconds (wall clock) one clip's decoding may take; past it, the clip is "
        "judged on the frames decoded so far.",
    )
