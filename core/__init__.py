"""DeepGuard's platform-free core: decode an upload, batch it through the model, judge it."""

from core.classifier import Classifier, HFClassifier
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
