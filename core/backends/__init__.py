"""Choose the inference engine from `DEEPGUARD_MODEL__BACKEND`; every one is a `Classifier`.

| backend | engine | probabilities |
|---|---|---|
| `torch` | PyTorch eager, float32 (or float16/bfloat16 on CUDA) | the model card's, exactly |
| `torch-int8` | PyTorch, Linear layers dynamically quantized to int8 | close (measured) |
| `onnx` | ONNX Runtime, float32, exported once and cached | within 1e-4 |
| `onnx-int8` | ONNX Runtime, dynamic int8 | close (measured) |
"""

from __future__ import annotations

from config import ModelSettings
from core.classifier import Classifier, HFClassifier


def load_classifier(settings: ModelSettings) -> Classifier:
    """Load the configured backend (blocking: seconds, or longer on a first ONNX export)."""
    if settings.backend in ("onnx", "onnx-int8"):
        from core.backends.onnx import OnnxClassifier

        return OnnxClassifier.load(settings)
    return HFClassifier.load(settings)


__all__ = ["load_classifier"]
