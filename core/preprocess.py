"""Turn a decoded picture into the model's input tensor, cheaply and exactly.

The hub processor copies a full-size photo through NumPy and back before it resizes. Resizing
the decoded image first, with the processor's own filter, size, scale, mean and std, gives the
same tensor (pinned by a test) in a fraction of the time. Processors this shortcut does not
cover (crops, padding, aspect-keeping sizes, the torchvision backend) are called as they are.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

PixelArray = npt.NDArray[np.float32]


class Preprocessor:
    """Callable image -> float32 array of shape (3, height, width), safe to call from threads."""

    def __init__(self, processor: Any) -> None:
        self._processor = processor
        self._fast = _fast_plan(processor)

    @property
    def is_fast(self) -> bool:
        return self._fast is not None

    @property
    def input_size(self) -> tuple[int, int] | None:
        """The model's (width, height), where the processor resizes to a fixed size."""
        return self._fast.size if self._fast is not None else None

    def __call__(self, image: Image.Image) -> PixelArray:
        if self._fast is None:
            out = self._processor(images=image, return_tensors="np")["pixel_values"][0]
            return np.ascontiguousarray(out, dtype=np.float32)
        return self._fast.apply(image)


class Preprocessing:
    """The `prepare` half of a `Classifier`, for classifiers that hold a `Preprocessor`."""

    _preprocess: Preprocessor

    @property
    def fast_preprocessing(self) -> bool:
        return self._preprocess.is_fast

    @property
    def input_size(self) -> tuple[int, int] | None:
        return self._preprocess.input_size

    def prepare(self, image: Image.Image) -> PixelArray:
        return self._preprocess(image)


class _FastPlan:
    def __init__(
        self,
        size: tuple[int, int],
        resample: int,
        scale: float | None,
        mean: npt.NDArray[np.float64] | None,
        std: npt.NDArray[np.float64] | None,
    ) -> None:
        self.size = size  # (width, height), as PIL wants it
        self.resample = resample
        self.scale = scale
        self.mean = mean
        self.std = std

    def apply(self, image: Image.Image) -> PixelArray:
        rgb = image if image.mode == "RGB" else image.convert("RGB")  # convert() always copies
        resized = rgb.resize(self.size, resample=self.resample)
        pixels = np.asarray(resized).transpose(2, 0, 1).astype(np.float64)
        if self.scale is not None:
            pixels = (pixels * self.scale).astype(np.float32)
        if self.mean is not None and self.std is not None:
            pixels = (pixels - self.mean) / self.std
        return np.ascontiguousarray(pixels, dtype=np.float32)


def _fast_plan(processor: Any) -> _FastPlan | None:
    """The shortcut's parameters, or None where the processor does more than resize+normalise."""
    try:
        from transformers.image_processing_backends import PilBackend
    except ImportError:  # older transformers: keep the processor's own path
        return None
    if not isinstance(processor, PilBackend) or not getattr(processor, "do_resize", False):
        return None
    if getattr(processor, "do_center_crop", False) or getattr(processor, "do_pad", False):
        return None
    size = getattr(processor, "size", None) or {}
    height, width = _get(size, "height"), _get(size, "width")
    if not height or not width:
        return None
    scale = float(processor.rescale_factor) if processor.do_rescale else None
    normalise = bool(processor.do_normalize)
    mean = _channels(processor.image_mean) if normalise else None
    std = _channels(processor.image_std) if normalise else None
    resample = (
        int(processor.resample) if processor.resample is not None else Image.Resampling.BILINEAR
    )
    return _FastPlan((int(width), int(height)), resample, scale, mean, std)


def _get(size: Any, key: str) -> Any:
    return size.get(key) if isinstance(size, dict) else getattr(size, key, None)


def _channels(values: Any) -> npt.NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    return np.broadcast_to(array, (3,)).reshape(3, 1, 1)
