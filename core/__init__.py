"""DeepGuard's platform-free core: decode an upload, batch it through the model, judge it."""

from typing import TYPE_CHECKING, Any

from core.detector import Detector, Judge
from core.errors import (
    CorruptImage,
    DeepGuardError,
    ImageTooLarge,
    InvalidImage,
    ModelError,
    Overloaded,
    RequestTimeout,
    ShuttingDown,
    UnsupportedImage,
)
from core.result import Judgement, Scores, Signal, Verdict

if TYPE_CHECKING:
    from core.classifier import Classifier, HFClassifier


def __getattr__(name: str) -> Any:
    """`Classifier` and `HFClassifier` load torch: only on first use, for the model extra."""
    if name in ("Classifier", "HFClassifier"):
        from core import classifier

        return getattr(classifier, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Classifier",
    "CorruptImage",
    "DeepGuardError",
    "Detector",
    "HFClassifier",
    "ImageTooLarge",
    "InvalidImage",
    "Judge",
    "Judgement",
    "ModelError",
    "Overloaded",
    "RequestTimeout",
    "Scores",
    "ShuttingDown",
    "Signal",
    "UnsupportedImage",
    "Verdict",
]
