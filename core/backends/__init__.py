"""Choose the inference engine from `DEEPGUARD_MODEL__BACKEND`; every one is a `Classifier`.

| backend | engine | probabilities |
|---|---|---|
| `torch` | PyTorch eager, float32 (or float16/bfloat16 on CUDA) | the model card's, exactly |
| `torch-int8` | PyTorch, Linear layers dynamically quantized to int8 | close (measured) |
| `onnx` | ONNX Runtime, float32, exported once and cached | within 1e-4 |
| `onnx-int8` | ONNX Runtime, dynamic int8 | close (measured) |
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from config import ModelSettings
from core.errors import ModelError

if TYPE_CHECKING:
    from core.classifier import Classifier

MODEL_PACKAGES = frozenset({"torch", "transformers"})
MODEL_EXTRA_MISSING = (
    "running the model needs torch and transformers, which are not installed: "
    "pip install 'deepguard[model]', or set DEEPGUARD_CORE_URL to use a remote inference API"
)


def load_classifier(settings: ModelSettings) -> Classifier:
    """Load the configured backend (blocking: seconds, or longer on a first ONNX export).

    The model stack is imported here and nowhere at import time, so bots that judge through
    a remote core (`deepguard[model]` not installed) never need torch.
    """
    try:
        return _load(settings)
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] not in MODEL_PACKAGES:
            raise
        raise ModelError(MODEL_EXTRA_MISSING) from exc


def _load(settings: ModelSettings) -> Classifier:
    if settings.backend in ("onnx", "onnx-int8"):
        from core.backends.onnx import OnnxClassifier

        return OnnxClassifier.load(settings)
    from core.classifier import HFClassifier

    return HFClassifier.load(settings)


__all__ = ["load_classifier"]
