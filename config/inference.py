"""Settings of the inference core: the model, the micro-batching queue, image and clip
limits, and what an image's own declarations (Content Credentials, metadata) count for."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, FilePath, field_validator

MiB = 1024 * 1024


class ModelSettings(BaseModel):
    """Which classifier to load and how to run it."""

    name: str = Field(
        "king1oo1/deepfake-model",
        description="Hugging Face hub id or a local directory holding config and weights.",
    )
    revision: str | None = Field(None, description="Hub branch, tag or commit to pin.")
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="Where the model runs; auto takes a GPU when there is one."
    )
    threads: int | None = Field(
        None,
        ge=1,
        description="Intra-op threads (torch and ONNX Runtime); default all usable cores.",
    )
    offline: bool = Field(False, description="Never contact the hub; use the local cache only.")
    cache_dir: Path | None = Field(None, description="Where hub downloads are kept.")
    fake_label: str | None = Field(
        None, description="Name in id2label of the fake class, when its name is not recognised."
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
