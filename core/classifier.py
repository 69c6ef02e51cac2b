"""The model seam: a blocking, batched classifier, and the Hugging Face one users run."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import torch
from PIL import Image

from config import ModelSettings
from core.errors import ModelError
from core.labels import LabelMap
from core.preprocess import PixelArray, Preprocessor
from core.result import Scores

log = logging.getLogger(__name__)


class Classifier(Protocol):
    """A blocking model: `prepare` one image (any thread), `predict` a batch (one thread)."""

    def prepare(self, image: Image.Image) -> PixelArray: ...

    def predict(self, batch: Sequence[PixelArray]) -> list[Scores]: ...


class HFClassifier:
    """`AutoImageProcessor` + `AutoModelForImageClassification`, as the model card uses them."""

    def __init__(self, processor: Any, model: Any, labels: LabelMap, device: torch.device) -> None:
        self._preprocess = Preprocessor(processor)
        self._model = model
        self._device = device
        self._dtype = next(model.parameters()).dtype
        self.labels = labels

    @classmethod
    def load(cls, settings: ModelSettings) -> HFClassifier:
        """Load from a hub id or a local directory (blocking: seconds, and maybe a download)."""
        from transformers import AutoImageProcessor, AutoModelForImageClassification

        torch.set_num_threads(settings.threads or os.cpu_count() or 1)
        device = _device(settings.device)
        options: dict[str, Any] = {
            "revision": settings.revision,
            "cache_dir": settings.cache_dir,
            "local_files_only": settings.offline,
        }
        started = time.perf_counter()
        try:
            processor = AutoImageProcessor.from_pretrained(settings.name, **options)
            model = AutoModelForImageClassification.from_pretrained(settings.name, **options)
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot load model {settings.name!r}: {exc}") from exc
        model.to(device).eval()
        labels = LabelMap.from_id2label(model.config.id2label, settings.fake_label)
        log.info(
            "loaded %s on %s in %.1f s (labels %s, fake=%s)",
            settings.name,
            device,
            time.perf_counter() - started,
            labels.names,
            sorted(labels.names[i] for i in labels.fake) or "1 - real",
        )
        return cls(processor, model, labels, device)

    @property
    def fast_preprocessing(self) -> bool:
        return self._preprocess.is_fast

    def prepare(self, image: Image.Image) -> PixelArray:
        return self._preprocess(image)

    def predict(self, batch: Sequence[PixelArray]) -> list[Scores]:
        pixels = torch.from_numpy(np.stack(batch)).to(self._device, self._dtype)
        with torch.inference_mode():
            logits = self._model(pixel_values=pixels).logits
            probabilities = torch.softmax(logits.float(), dim=-1).cpu().numpy()
        return [self.labels.scores(row.tolist()) for row in probabilities]


def _device(choice: str) -> torch.device:
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        raise ModelError("DEEPGUARD_MODEL__DEVICE is cuda but no CUDA device is available")
    return torch.device(choice)
