"""Refuse at start-up, in one clear message, a model DeepGuard cannot run: never at an image.

A hub repository may hold no image-classification head (a bare backbone, a text model), an
image processor that cannot be loaded or fails on a picture, processor outputs the model does
not take, or class names that say nothing of fake and real. Each is found while loading, and
each message names the setting to change. Blocking calls; run them in a thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from config import ModelSettings
from core.backends.cache import hub_options
from core.errors import ModelError
from core.labels import LabelMap

if TYPE_CHECKING:
    from core.classifier import Classifier

NAME = "DEEPGUARD_MODEL__NAME"


def load_config_and_processor(settings: ModelSettings) -> tuple[Any, Any]:
    """The model's config, refused unless it has an image-classification head, and processor."""
    from transformers import MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING, AutoConfig, AutoImageProcessor

    name, options = settings.name, hub_options(settings)
    try:
        config = AutoConfig.from_pretrained(name, **options)
    except (OSError, ValueError) as exc:
        raise ModelError(f"{NAME}: cannot load model {name!r}: {exc}") from exc
    if type(config) not in MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING:
        raise ModelError(
            f"{NAME}: {name!r} is a {config.model_type!r} model, which has no "
            "image-classification head; choose an image classifier"
        )
    saved = [str(a) for a in (getattr(config, "architectures", None) or [])]
    if saved and not any("ForImageClassification" in a for a in saved):
        raise ModelError(
            f"{NAME}: {name!r} was saved as {', '.join(saved)}, without an "
            "image-classification head; choose a fine-tuned image classifier"
        )
    try:
        processor = AutoImageProcessor.from_pretrained(name, **options)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise ModelError(f"{NAME}: cannot load the image processor of {name!r}: {exc}") from exc
    if not callable(processor):
        raise ModelError(f"{NAME}: the image processor of {name!r} cannot be called on images")
    return config, processor


def refuse_missing_weights(name: str, loading_info: dict[str, Any]) -> None:
    """A head (or any layer) the checkpoint lacks would be random: refuse it."""
    missing = sorted(loading_info.get("missing_keys") or ())
    if missing:
        shown = ", ".join(missing[:4]) + (", ..." if len(missing) > 4 else "")
        raise ModelError(
            f"{NAME}: {name!r} lacks weights for {shown} (a checkpoint without its "
            "image-classification head?); choose a fine-tuned image classifier"
        )


def label_map(settings: ModelSettings, id2label: dict[int, str]) -> LabelMap:
    """Which classes are fake and which real; a refusal names the model and the setting."""
    try:
        return LabelMap.from_id2label(id2label, settings.fake_label)
    except ModelError as exc:
        raise ModelError(f"model {settings.name!r}: {exc}") from exc


def probe_image() -> Image.Image:
    """Not square and not flat, so aspect-keeping and patch-layout processors are exercised."""
    y, x = np.mgrid[0:48, 0:64]
    pixels = np.stack([x * 4, y * 5, (x + y) * 2], axis=-1).clip(0, 255).astype(np.uint8)
    return Image.fromarray(pixels)


def probe(classifier: Classifier[Any], name: str) -> None:
    """Prepare and predict one picture, as the first user's image would be."""
    image = probe_image()
    try:
        prepared = classifier.prepare(image)
    except Exception as exc:
        raise ModelError(
            f"{NAME}: the image processor of {name!r} fails on a picture "
            f"({type(exc).__name__}: {exc}); choose a model whose processor DeepGuard can call"
        ) from exc
    try:
        (scores,) = classifier.predict([prepared])
    except Exception as exc:
        raise ModelError(
            f"{NAME}: {name!r} cannot run on its own processor's output "
            f"({type(exc).__name__}: {exc}); choose another model"
        ) from exc
    if not 0.0 <= scores.fake_probability <= 1.0:
        raise ModelError(f"{NAME}: {name!r} gave a fake probability outside 0..1; this is a bug")
