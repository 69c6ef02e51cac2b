"""Choose the inference engine from `DEEPGUARD_MODEL__BACKEND`; every one is a `Classifier`.

| backend | engine | probabilities |
|---|---|---|
| `torch` | PyTorch eager, float32 (or float16/bfloat16 on CUDA) | the model card's, exactly |
| `torch-int8` | PyTorch, Linear layers dynamically quantized to int8 | close (measured) |
| `onnx` | ONNX Runtime, float32, exported once and cached | within 1e-4 |
| `onnx-int8` | ONNX Runtime, dynamic int8 | close (measured) |
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from config import ModelSettings
from core.errors import ModelError

if TYPE_CHECKING:
    from core.classifier import Classifier

MODEL_PACKAGES = frozenset({"torch", "transformers"})
MODEL_EXTRA_MISSING = (
    "running the model needs torch and transformers, which are not installed: "
    "pip install 'deepguard[model]', or set DEEPGUARD_CORE_URL to use a remote inference API"
)


def load_classifier(settings: ModelSettings) -> Classifier[Any]:
    """Load one model on the configured backend (blocking: seconds, or longer on a first ONNX
    export); several models are loaded by `core.ensemble.load_members`, one by one.

    The model stack is imported here and nowhere at import time, so bots that judge through
    a remote core (`deepguard[model]` not installed) never need torch.
    """
    try:
        return _load(settings)
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] not in MODEL_PACKAGES:
            raise
        raise ModelError(MODEL_EXTRA_MISSING) from exc


def _load(settings: ModelSettings) -> Classifier[Any]:
    if len(settings.names) > 1:
        raise ModelError(
            f"DEEPGUARD_MODEL__NAME names {len(settings.names)} models and this path runs one; "
            "name a single model here"
        )
    if settings.backend in ("onnx", "onnx-int8"):
        from core.backends.onnx import OnnxClassifier

        return OnnxClassifier.load(settings)
    from core.classifier import HFClassifier

    return HFClassifier.load(settings)


def intra_op_threads(settings: ModelSettings) -> int:
    """The setting, or every core this process may run on (containers pin CPUs by affinity)."""
    if settings.threads:
        return settings.threads
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


__all__ = ["intra_op_threads", "load_classifier"]
