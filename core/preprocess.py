"""Turn a decoded picture into the model's inputs, cheaply where that is exact.

The model's own image processor decides what the model takes: `pixel_values` alone for most
families, or more (SigLIP2 NaFlex adds `pixel_attention_mask` and `spatial_shapes`, its patch
grid following each image). Every input it makes is passed on, by name.

The hub processor copies a full-size photo through NumPy and back before it resizes. For the
plain resize-and-normalise processors (SigLIP, ViT, Swin), resizing the decoded image first,
with the processor's own filter, size, scale, mean and std, gives the same tensor (pinned by a
test) in a fraction of the time. Every other processor (crops, aspect-keeping sizes, patch
layouts, the torchvision backend) is called as it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

PixelArray = npt.NDArray[np.float32]
ModelInputs = dict[str, npt.NDArray[Any]]  # one image's inputs by argument name, no batch axis


class Preprocessor:
    """Callable image -> `ModelInputs`, safe to call from threads."""

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

    def __call__(self, image: Image.Image) -> ModelInputs:
        if self._fast is not None:
            return {"pixel_values": self._fast.apply(image)}
        out = self._processor(images=image, return_tensors="np")
        inputs = {
            str(name): np.ascontiguousarray(np.asarray(value)[0]) for name, value in out.items()
        }
        if "pixel_values" not in inputs:
            raise ValueError(
                f"the image processor made no pixel_values (it made {sorted(inputs)})"
            )
        return inputs


class Preprocessing:
    """The `prepare` half of a `Classifier`, for classifiers that hold a `Preprocessor`."""

    _preprocess: Preprocessor

    @property
    def fast_preprocessing(self) -> bool:
        return self._preprocess.is_fast

    @property
    def input_size(self) -> tuple[int, int] | None:
        return self._preprocess.input_size

    def prepare(self, image: Image.Image) -> ModelInputs:
        return self._preprocess(image)


def same_layout(batch: Sequence[ModelInputs]) -> list[list[int]]:
    """Indices of the batch grouped by input shapes, first-seen order: each group stacks.

    Processors that pad (NaFlex pads every image to `max_num_patches`) give one group however
    the images' layouts differ; an aspect-keeping processor without padding gives one group
    per size, run apart rather than padded, which would change the answer of a model that
    does not mask padding.
    """
    groups: dict[tuple[tuple[str, tuple[int, ...]], ...], list[int]] = {}
    for index, inputs in enumerate(batch):
        key = tuple((name, array.shape) for name, array in sorted(inputs.items()))
        groups.setdefault(key, []).append(index)
    return list(groups.values())


def stack(group: Sequence[Mapping[str, npt.NDArray[Any]]]) -> dict[str, npt.NDArray[Any]]:
    """One array per input name with the batch axis first; the inputs must share shapes."""
    return {name: np.stack([inputs[name] for inputs in group]) for name in group[0]}


def hash_picture(inputs: ModelInputs | PixelArray, image: Image.Image) -> PixelArray:
    """What the near-duplicate hash is taken from: the model's (channels, height, width) input,
    or the decoded picture where the model takes patches (NaFlex) instead of a picture."""
    pixels = inputs.get("pixel_values") if isinstance(inputs, dict) else inputs
    if pixels is not None and pixels.ndim == 3:
        return pixels
    thumb = image.convert("L")
    thumb.thumbnail((128, 128), Image.Resampling.BOX)
    return np.asarray(thumb, dtype=np.float32)[None]


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
    kind = type(processor)
    # A family that overrides a step (ConvNeXt's crop_pct resize, NaFlex's patches) or makes
    # more than pixel_values does something this shortcut does not reproduce.
    if kind._preprocess is not PilBackend._preprocess or kind.resize is not PilBackend.resize:
        return None
    if list(getattr(processor, "model_input_names", ["pixel_values"])) != ["pixel_values"]:
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
